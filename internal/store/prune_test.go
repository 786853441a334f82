package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// clock is a settable Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// daily writes broadcast id at the clock's time with n sent recipients and
// leaves it in state st.
func daily(t testing.TB, s *Store, id string, n int, st BroadcastState) {
	t.Helper()
	rs := make([]string, n)
	for i := range rs {
		rs[i] = fmt.Sprintf("@friend%d", i+1)
	}
	if err := s.SaveBroadcast(Broadcast{ID: id, BaseID: id, Run: 1, Text: "good morning " + id, Recipients: rs}); err != nil {
		t.Fatal(err)
	}
	// Concurrently, as a send's workers do, so that they share commits.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- s.MarkSent(id, int64(i+1), i+100) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetState(id, st); err != nil {
		t.Fatal(err)
	}
}

func ids(ms []Summary) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestPruneRemovesOnlyFinishedAndOld(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 6, 30, 0, 0, time.UTC)
	c := &clock{now: day0}
	s, err := Open(stateDir(t), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for d, st := range []BroadcastState{StateFinished, StateInterrupted, StateFinished, StateStopped, StateFinished} {
		c.set(day0.AddDate(0, 0, d))
		daily(t, s, fmt.Sprintf("day%d", d), 3, st)
	}
	// Day 1's was interrupted, then retracted: never resumed, so prunable.
	c.set(day0.AddDate(0, 0, 1).Add(time.Hour))
	if err := s.BeginRetract("day1", c.Now()); err != nil {
		t.Fatal(err)
	}

	c.set(day0.AddDate(0, 0, 10))
	res, err := s.Prune(PruneOptions{Before: day0.AddDate(0, 0, 3)}) // keeps days 3 and 4
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ids(res.Removed)), "[day0 day1 day2]"; got != want {
		t.Errorf("removed %s, want %s", got, want)
	}
	if res.Entries != 9 || res.KeptUnfinished != 0 || res.More {
		t.Errorf("result %+v", res)
	}
	list, err := s.Summaries()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ids(list)), "[day4 day3]"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}
	for _, id := range []string{"day0", "day1", "day2"} {
		if _, err := s.LoadBroadcast(id); err == nil {
			t.Errorf("%s is still there", id)
		}
		if _, err := s.Entries(id); err == nil {
			t.Errorf("%s's journal is still there", id)
		}
		if ts, ok, err := s.Pruned(id); err != nil || !ok || ts.ID != id || ts.Run != 1 || !ts.PrunedAt.Equal(c.Now()) {
			t.Errorf("tombstone of %s: %+v, %v, %v", id, ts, ok, err)
		}
	}

	// An unfinished broadcast can be resumed however old it is.
	res, err = s.Prune(PruneOptions{Before: day0.AddDate(0, 0, 10)})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ids(res.Removed)); got != "[day4]" || res.KeptUnfinished != 1 {
		t.Errorf("second prune removed %s, kept %d unfinished; want [day4] and 1", got, res.KeptUnfinished)
	}
	if b, err := s.LoadBroadcast("day3"); err != nil || b.State != StateStopped {
		t.Errorf("the stopped broadcast: %+v, %v", b, err)
	}
}

// A run number is in the broadcast's id and so in its random_ids: a pruned
// run's number must never be handed out again.
func TestPrunedRunsAreRemembered(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := Open(stateDir(t), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, b := range []Broadcast{{ID: "abc", BaseID: "abc", Run: 1}, {ID: "abc-2", BaseID: "abc", Run: 2}, {ID: "abcd", BaseID: "abcd", Run: 1}} {
		if err := s.SaveBroadcast(b); err != nil {
			t.Fatal(err)
		}
		if err := s.SetState(b.ID, StateFinished); err != nil {
			t.Fatal(err)
		}
	}
	c.set(c.Now().AddDate(1, 0, 0))
	if _, err := s.Prune(PruneOptions{Before: c.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LatestRun("abc"); ok {
		t.Fatal("LatestRun still finds a pruned run")
	}
	if n, err := s.PrunedRuns("abc"); n != 2 || err != nil {
		t.Errorf("PrunedRuns(abc) = %d, %v; want 2", n, err)
	}
	if n, err := s.PrunedRuns("zzz"); n != 0 || err != nil {
		t.Errorf("PrunedRuns(zzz) = %d, %v; want 0", n, err)
	}
}

func TestPruneStopsAtItsDeadline(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := Open(stateDir(t), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	daily(t, s, "old", 2, StateFinished)
	c.set(c.Now().AddDate(0, 0, 100))
	res, err := s.Prune(PruneOptions{Before: c.Now(), Deadline: time.Now().Add(-time.Second)})
	if err != nil || len(res.Removed) != 0 || !res.More {
		t.Fatalf("past deadline: %+v, %v; want nothing removed and More", res, err)
	}
	res, err = s.Prune(PruneOptions{Before: c.Now()})
	if err != nil || len(res.Removed) != 1 || res.More {
		t.Fatalf("no deadline: %+v, %v", res, err)
	}
}

// Summaries count each broadcast's recipients by outcome when its run ends,
// and a running one when read.
func TestSummaries(t *testing.T) {
	s := open(t, stateDir(t))
	daily(t, s, "done", 3, StateFinished)
	if err := s.MarkFailed("done", 9, "@nobody", "USERNAME_NOT_OCCUPIED"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBroadcast(Broadcast{ID: "live", BaseID: "live", Run: 1, Recipients: []string{"@a", "@b"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending("live", Entry{Recipient: "@a", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent("live", 2, 7); err != nil {
		t.Fatal(err)
	}
	list, err := s.Summaries()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Summary{}
	for _, m := range list {
		got[m.ID] = m
	}
	// The failure came after the run was counted: it shows once the
	// broadcast's next run ends, as a resumed broadcast's would.
	if m := got["done"]; m.Sent != 3 || m.Failed != 0 || m.Recipients != 3 || m.State != StateFinished || m.Text != "good morning done" {
		t.Errorf("done: %+v", m)
	}
	if m := got["live"]; m.Sent != 1 || m.Pending != 1 || m.Recipients != 2 || m.State != StateRunning {
		t.Errorf("live: %+v", m)
	}
	if err := s.SetState("live", StateInterrupted); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginRetract("live", time.Now()); err != nil {
		t.Fatal(err)
	}
	list, _ = s.Summaries()
	for _, m := range list {
		if m.ID == "live" && (m.Sent != 1 || m.Pending != 1 || !m.Counted || m.RetractedAt.IsZero()) {
			t.Errorf("live after retract: %+v", m)
		}
	}
}

// A database from before summaries gets them when it is opened.
func TestOpenAddsSummaries(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	daily(t, s, "old", 2, StateFinished)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSummaries) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	list, err := s.Summaries()
	if err != nil || len(list) != 1 || list[0].Sent != 2 || !list[0].Counted {
		t.Fatalf("summaries after reopening: %+v, %v", list, err)
	}
}

func TestCompactGivesSpaceBack(t *testing.T) {
	dir := stateDir(t)
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := Open(dir, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	for d := range 40 {
		c.set(c.Now().AddDate(0, 0, 1))
		daily(t, s, fmt.Sprintf("day%02d", d), 300, StateFinished)
	}
	if err := s.SavePeer("@friend1", Peer{Kind: KindUser, ID: 1, AccessHash: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(PruneOptions{Before: c.Now()}); err != nil { // all but the last day
		t.Fatal(err)
	}
	sp, err := s.Space()
	if err != nil || !sp.Sparse() {
		t.Fatalf("after pruning 39 of 40 days: %+v, %v; want sparse", sp, err)
	}
	before, after, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Errorf("compacted from %d to %d bytes", before, after)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state.db")); err != nil || fi.Size() != after || fi.Mode().Perm() != 0o600 {
		t.Errorf("state.db after compacting: %v, %v", fi, err)
	}
	if sp, _ := s.Space(); sp.Sparse() {
		t.Errorf("still sparse after compacting: %+v", sp)
	}
	// The store goes on working on the new file, and so does the next one.
	if es, err := s.Entries("day39"); err != nil || len(es) != 300 {
		t.Fatalf("entries after compacting: %d, %v", len(es), err)
	}
	c.set(c.Now().Add(time.Hour))
	daily(t, s, "after", 2, StateFinished)
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Summaries()
	if err != nil || fmt.Sprint(ids(list)) != "[after day39]" {
		t.Errorf("after reopening: %v, %v", ids(list), err)
	}
	if p, ok, err := s.LookupPeer("@friend1"); !ok || err != nil || p.AccessHash != 5 {
		t.Errorf("peer cache after compacting: %+v, %v, %v", p, ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db.compact.tmp")); err == nil {
		t.Error("the compaction's temporary file is left behind")
	}
}

// A process that waited for the old file's lock while another compacted it
// must end up on the new file, not the one that lost its name.
func TestOpenAfterCompactionByAnother(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	daily(t, s, "kept", 2, StateFinished)
	opened := make(chan *Store, 1)
	go func() {
		o, err := Open(dir, Options{LockTimeout: 10 * time.Second})
		if err != nil {
			t.Error(err)
		}
		opened <- o
	}()
	time.Sleep(100 * time.Millisecond) // the other waits for the lock
	if _, _, err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	o := <-opened
	if o == nil {
		return
	}
	defer o.Close()
	daily(t, o, "later", 1, StateFinished)
	o.Close()
	r := open(t, dir)
	list, err := r.Summaries()
	if err != nil || fmt.Sprint(ids(list)) != "[later kept]" {
		t.Errorf("broadcasts: %v, %v; want [later kept]", ids(list), err)
	}
}
