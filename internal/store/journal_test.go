package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func saveBroadcast(t testing.TB, s *Store, id string) {
	t.Helper()
	if err := s.SaveBroadcast(Broadcast{ID: id, BaseID: id, Run: 1, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
}

func entry(t *testing.T, s *Store, id string, peerID int64) Entry {
	t.Helper()
	e, ok, err := s.Entry(id, peerID)
	if err != nil || !ok {
		t.Fatalf("Entry(%s, %d): %v, %v", id, peerID, ok, err)
	}
	return e
}

func TestBroadcastRoundTrip(t *testing.T) {
	s := open(t, stateDir(t))
	if _, err := s.LoadBroadcast("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadBroadcast of unknown id: %v", err)
	}

	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	b := Broadcast{
		ID: "abc-2", BaseID: "abc", Run: 2, AccountID: 42,
		Text: "hello", Spec: []byte(`{"silent":true}`), Recipients: []string{"@a", "+1555"},
		State: StateRunning, CreatedAt: created,
	}
	if err := s.SaveBroadcast(b); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadBroadcast("abc-2")
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdatedAt.IsZero() || !got.CreatedAt.Equal(created) {
		t.Errorf("times: created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
	if got.ID != b.ID || got.BaseID != b.BaseID || got.Run != 2 || got.AccountID != 42 || got.Text != "hello" ||
		string(got.Spec) != string(b.Spec) || fmt.Sprint(got.Recipients) != fmt.Sprint(b.Recipients) || got.State != StateRunning {
		t.Errorf("LoadBroadcast = %+v, want %+v", got, b)
	}

	if err := s.SetState("abc-2", StateStopped); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadBroadcast("abc-2"); got.State != StateStopped || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("after SetState: %+v", got)
	}
	if err := s.SetState("nope", StateFinished); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetState of unknown id: %v", err)
	}
	if err := s.SetState("abc-2", "bogus"); err == nil {
		t.Error("SetState accepted an unknown state")
	}
	if err := s.SaveBroadcast(Broadcast{}); err == nil {
		t.Error("SaveBroadcast accepted an empty id")
	}
}

func TestBroadcastsAndLatestRun(t *testing.T) {
	s := open(t, stateDir(t))
	if list, err := s.Broadcasts(); err != nil || len(list) != 0 {
		t.Fatalf("Broadcasts on a new store: %v, %v", list, err)
	}
	if _, ok, err := s.LatestRun("x"); ok || err != nil {
		t.Fatalf("LatestRun on a new store: %v, %v", ok, err)
	}

	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, b := range []Broadcast{
		{ID: "x-1", BaseID: "x", Run: 1, CreatedAt: t0},
		{ID: "x-3", BaseID: "x", Run: 3, CreatedAt: t0.Add(3 * time.Hour)},
		{ID: "y-1", BaseID: "y", Run: 1, CreatedAt: t0.Add(4 * time.Hour)},
		{ID: "x-2", BaseID: "x", Run: 2, CreatedAt: t0.Add(2 * time.Hour)},
	} {
		if err := s.SaveBroadcast(b); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}

	list, err := s.Broadcasts()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range list {
		ids = append(ids, b.ID)
	}
	if got, want := fmt.Sprint(ids), "[y-1 x-3 x-2 x-1]"; got != want {
		t.Errorf("Broadcasts order %s, want %s", got, want)
	}

	b, ok, err := s.LatestRun("x")
	if err != nil || !ok || b.ID != "x-3" || b.Run != 3 {
		t.Errorf("LatestRun(x) = %s run %d, %v, %v; want x-3", b.ID, b.Run, ok, err)
	}
	if _, ok, _ := s.LatestRun("z"); ok {
		t.Error("LatestRun(z) found something")
	}
}

func TestJournalLifecycle(t *testing.T) {
	s := open(t, stateDir(t))
	saveBroadcast(t, s, "b")

	if _, ok, err := s.Entry("b", 10); ok || err != nil {
		t.Fatalf("Entry before MarkPending: %v, %v", ok, err)
	}
	if err := s.MarkPending("b", Entry{Recipient: "@ten", PeerID: 10}); err != nil {
		t.Fatal(err)
	}
	e := entry(t, s, "b", 10)
	if e.Status != EntryPending || e.Recipient != "@ten" || e.Attempts != 1 || e.UpdatedAt.IsZero() {
		t.Errorf("after MarkPending: %+v", e)
	}
	if err := s.MarkSent("b", 10, 555); err != nil {
		t.Fatal(err)
	}
	e = entry(t, s, "b", 10)
	if e.Status != EntrySent || e.MessageID != 555 || e.Recipient != "@ten" || e.Attempts != 1 {
		t.Errorf("after MarkSent: %+v", e)
	}

	// A retried failure counts attempts and keeps the last error.
	if err := s.MarkPending("b", Entry{Recipient: "@eleven", PeerID: 11}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed("b", 11, "@eleven", "FLOOD"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending("b", Entry{Recipient: "@eleven", PeerID: 11}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed("b", 11, "", "USER_PRIVACY_RESTRICTED"); err != nil {
		t.Fatal(err)
	}
	e = entry(t, s, "b", 11)
	if e.Status != EntryFailed || e.Attempts != 2 || e.Error != "USER_PRIVACY_RESTRICTED" || e.Recipient != "@eleven" {
		t.Errorf("after two failures: %+v", e)
	}

	// Unresolved recipients have no peer id and must not collide.
	for _, r := range []string{"@ghost1", "@ghost2"} {
		if err := s.MarkFailed("b", 0, r, "USERNAME_NOT_OCCUPIED"); err != nil {
			t.Fatal(err)
		}
	}

	// @ghost3 failed to resolve, then resolved on a retry: one entry.
	if err := s.MarkFailed("b", 0, "@ghost3", "RESOLVE_TIMEOUT"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending("b", Entry{Recipient: "@ghost3", PeerID: 12}); err != nil {
		t.Fatal(err)
	}

	list, err := s.Entries("b")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%s/%d/%s", e.Recipient, e.PeerID, e.Status))
	}
	if g, w := fmt.Sprint(got), "[@ghost1/0/failed @ghost2/0/failed @ten/10/sent @eleven/11/failed @ghost3/12/pending]"; g != w {
		t.Errorf("Entries = %s, want %s", g, w)
	}

	if _, err := s.Entries("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entries of an unknown broadcast: %v", err)
	}
	if err := s.MarkPending("nope", Entry{PeerID: 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkPending on an unknown broadcast: %v", err)
	}
	if err := s.MarkPending("b", Entry{Recipient: "@x"}); err == nil {
		t.Error("MarkPending without a peer id succeeded")
	}
}

func TestSentIsFinal(t *testing.T) {
	s := open(t, stateDir(t))
	saveBroadcast(t, s, "b")
	if err := s.MarkPending("b", Entry{Recipient: "@a", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent("b", 1, 99); err != nil {
		t.Fatal(err)
	}
	want := entry(t, s, "b", 1)

	if err := s.MarkFailed("b", 1, "@a", "TIMEOUT"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending("b", Entry{Recipient: "@a", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent("b", 1, 100); err != nil {
		t.Fatal(err)
	}
	if got := entry(t, s, "b", 1); got.Status != EntrySent || got.MessageID != 99 || got.Attempts != 1 || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("sent entry changed: %+v, was %+v", got, want)
	}

	// MarkSent without MarkPending still records the send.
	if err := s.MarkSent("b", 2, 7); err != nil {
		t.Fatal(err)
	}
	if got := entry(t, s, "b", 2); got.Status != EntrySent || got.MessageID != 7 || got.PeerID != 2 {
		t.Errorf("MarkSent without MarkPending: %+v", got)
	}
}

func TestJournalConcurrent(t *testing.T) {
	const workers, perWorker = 64, 200
	s := open(t, stateDir(t))
	saveBroadcast(t, s, "b")

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				peer := int64(w*perWorker + i + 1)
				if err := s.MarkPending("b", Entry{Recipient: fmt.Sprintf("id:%d", peer), PeerID: peer}); err != nil {
					errs <- err
					return
				}
				if err := s.MarkSent("b", peer, int(peer)*10); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	list, err := s.Entries("b")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != workers*perWorker {
		t.Fatalf("%d entries, want %d", len(list), workers*perWorker)
	}
	for i, e := range list {
		peer := int64(i + 1)
		if e.PeerID != peer || e.Status != EntrySent || e.MessageID != int(peer)*10 || e.Attempts != 1 {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
}

func TestCorruptJournalRecords(t *testing.T) {
	s := open(t, stateDir(t))
	saveBroadcast(t, s, "b")
	if err := s.MarkPending("b", Entry{Recipient: "@a", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketBroadcasts).Put([]byte("bad"), []byte(`{"id":"bad","state":"weird"}`)); err != nil {
			return err
		}
		// LatestRun reads the summaries, not every record.
		if err := tx.Bucket(bucketSummaries).Put([]byte("bad"), []byte("\x00garbage")); err != nil {
			return err
		}
		return tx.Bucket(bucketJournal).Bucket([]byte("b")).Put(entryKey(1, ""), []byte("\x00garbage"))
	}); err != nil {
		t.Fatal(err)
	}

	var ce *CorruptError
	if _, err := s.LoadBroadcast("bad"); !errors.As(err, &ce) {
		t.Errorf("LoadBroadcast: %v, want CorruptError", err)
	}
	if _, err := s.Broadcasts(); !errors.As(err, &ce) {
		t.Errorf("Broadcasts: %v, want CorruptError", err)
	}
	if _, _, err := s.LatestRun("b"); !errors.As(err, &ce) {
		t.Errorf("LatestRun: %v, want CorruptError", err)
	}
	if _, _, err := s.Entry("b", 1); !errors.As(err, &ce) {
		t.Errorf("Entry: %v, want CorruptError", err)
	}
	if _, err := s.Entries("b"); !errors.As(err, &ce) {
		t.Errorf("Entries: %v, want CorruptError", err)
	}
	if err := s.MarkSent("b", 1, 5); !errors.As(err, &ce) {
		t.Errorf("MarkSent over a bad entry: %v, want CorruptError", err)
	}
}

// BenchmarkJournal journals a 10,000-recipient broadcast the way a send
// does: MarkPending before and MarkSent after each send, from 8 workers.
func BenchmarkJournal(b *testing.B) {
	const recipients, workers = 10_000, 8
	s := open(b, stateDir(b))
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		id := fmt.Sprintf("bench-%d", n)
		saveBroadcast(b, s, id)
		peers := make(chan int64, recipients)
		for i := range recipients {
			peers <- int64(i + 1)
		}
		close(peers)
		b.StartTimer()

		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for p := range peers {
					if err := s.MarkPending(id, Entry{Recipient: "id:1", PeerID: p}); err != nil {
						b.Error(err)
						return
					}
					if err := s.MarkSent(id, p, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recipients), "ns/recipient")
}
