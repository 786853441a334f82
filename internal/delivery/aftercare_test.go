package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// sentBroadcast journals broadcast "b" as sent to peers 1…n, each with parts
// messages (ids peer*10+i), sent at the given time.
func sentBroadcast(t *testing.T, st *store.Store, n, parts int) store.Broadcast {
	t.Helper()
	b := store.Broadcast{ID: "b", BaseID: "b", Run: 1, Text: "hi", State: store.StateFinished}
	if err := st.SaveBroadcast(b); err != nil {
		t.Fatal(err)
	}
	for p := int64(1); p <= int64(n); p++ {
		ids := make([]int, parts)
		for i := range ids {
			ids[i] = int(p)*10 + i
		}
		if err := st.MarkSent("b", p, ids...); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func sentEntries(t *testing.T, st *store.Store) []store.Entry {
	t.Helper()
	es, err := st.Entries("b")
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// fakeDeleter records calls (and the channel of each: 0 for the account's
// own ids) and refuses any call holding a refused id.
type fakeDeleter struct {
	mu       sync.Mutex
	calls    [][]int
	channels []int64
	refused  map[int]bool
}

func (f *fakeDeleter) Delete(_ context.Context, channel store.Peer, ids []int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, slices.Clone(ids))
	f.channels = append(f.channels, channel.ID)
	for _, id := range ids {
		if f.refused[id] {
			return 0, errors.New("MESSAGE_DELETE_FORBIDDEN")
		}
	}
	return len(ids), nil
}

func collect(changes *[]delivery.Change) func(delivery.Change) {
	return func(c delivery.Change) { *changes = append(*changes, c) }
}

func byStatus(cs []delivery.Change) map[fanout.Status]int {
	m := map[fanout.Status]int{}
	for _, c := range cs {
		m[c.Status]++
	}
	return m
}

// 250 recipients of 2 parts go in calls of at most 100 ids, a recipient's
// parts never split; a refused call is retried recipient by recipient so
// only the one whose message Telegram refuses fails.
func TestRetractBatchesAndIsolatesRefusals(t *testing.T) {
	st := openStore(t)
	b := sentBroadcast(t, st, 250, 2)
	d := &fakeDeleter{refused: map[int]bool{70: true}} // peer 7's first part
	var got []delivery.Change
	sum, err := delivery.Retract(context.Background(), st, d, b, sentEntries(t, st),
		delivery.RetractOptions{PerCall: 100, Whole: true}, collect(&got))
	if err != nil {
		t.Fatal(err)
	}
	if s := byStatus(got); s[fanout.StatusSent] != 249 || s[fanout.StatusFailed] != 1 || sum.Sent != 249 || sum.Failed != 1 {
		t.Fatalf("outcomes %v, summary %+v", s, sum)
	}
	batched := 0
	for _, c := range d.calls {
		if len(c) > 100 {
			t.Errorf("a call of %d ids", len(c))
		}
		if len(c) > 2 {
			batched++
		}
		for i := 0; i < len(c); i += 2 {
			if c[i]/10 != c[i+1]/10 {
				t.Errorf("a recipient's parts split across calls: %v", c)
			}
		}
	}
	if batched != 5 { // 500 ids in 5 calls, one refused and then tried one by one
		t.Errorf("%d batched calls, want 5", batched)
	}
	es := sentEntries(t, st)
	for _, e := range es {
		switch {
		case e.PeerID == 7 && (!e.RetractedAt.IsZero() || e.ChangeError == ""):
			t.Errorf("the refused recipient is journaled %+v", e)
		case e.PeerID != 7 && e.RetractedAt.IsZero():
			t.Errorf("peer %d is not journaled retracted", e.PeerID)
		}
	}
	if bb, _ := st.LoadBroadcast("b"); bb.RetractedAt.IsZero() {
		t.Error("the broadcast is not marked retracted")
	}

	// Again: only the refused one is tried.
	d.calls, d.refused = nil, nil
	got = nil
	if _, err := delivery.Retract(context.Background(), st, d, b, sentEntries(t, st), delivery.RetractOptions{PerCall: 100, Whole: true}, collect(&got)); err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 1 || !slices.Equal(d.calls[0], []int{70, 71}) || byStatus(got)[fanout.StatusSkipped] != 249 {
		t.Errorf("second run calls %v, outcomes %v", d.calls, byStatus(got))
	}
}

// The journal's send time decides the limit without a call.
func TestRetractPastTheLimitMakesNoCall(t *testing.T) {
	st := openStore(t)
	b := sentBroadcast(t, st, 3, 1)
	d := &fakeDeleter{}
	var got []delivery.Change
	_, err := delivery.Retract(context.Background(), st, d, b, sentEntries(t, st),
		delivery.RetractOptions{Limit: time.Hour, Bot: true, Now: time.Now().Add(72 * time.Hour), Whole: true}, collect(&got))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 0 || byStatus(got)[fanout.StatusFailed] != 3 {
		t.Fatalf("calls %v, outcomes %v", d.calls, byStatus(got))
	}
	if want := "MESSAGE_DELETE_FORBIDDEN: sent 3 days ago, bots may retract for 1 h"; got[0].Err.Error() != want {
		t.Errorf("error %q, want %q", got[0].Err, want)
	}
	if bb, _ := st.LoadBroadcast("b"); !bb.RetractedAt.IsZero() {
		t.Error("marked retracted though nothing was deleted")
	}
}

// fakeEditor edits by peer, failing the peers in fail.
type fakeEditor struct {
	mu    sync.Mutex
	calls map[int64]int
	fail  map[int64]error
}

func (f *fakeEditor) Edit(_ context.Context, p store.Peer, ids []int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[p.ID]++
	return f.fail[p.ID]
}

// An edit journals each recipient's new text; the same edit again calls
// nobody, a failure is kept with its reason, and a peer gone from the cache
// is named.
func TestEditJournalsEachRecipient(t *testing.T) {
	st := openStore(t)
	b := sentBroadcast(t, st, 5, 1)
	for p := int64(1); p <= 4; p++ { // peer 5 is not in the cache
		if err := st.SavePeer(fmt.Sprintf("@p%d", p), store.Peer{Kind: store.KindUser, ID: p, AccessHash: p}); err != nil {
			t.Fatal(err)
		}
	}
	ed := &fakeEditor{calls: map[int64]int{}, fail: map[int64]error{2: errors.New("MESSAGE_ID_INVALID")}}
	edit := store.Edit{Text: "new", ParseMode: "plain", Digest: delivery.EditDigest("new", "plain"), At: time.Now()}
	var got []delivery.Change
	sum, err := delivery.Edit(context.Background(), st, ed, b, sentEntries(t, st), delivery.EditOptions{Edit: edit}, collect(&got))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 3 || sum.Failed != 2 {
		t.Fatalf("summary %+v", sum)
	}
	for _, c := range got {
		if c.Entry.PeerID == 5 && !errors.Is(c.Err, delivery.ErrPeerForgotten) {
			t.Errorf("peer 5: %v", c.Err)
		}
	}
	got, ed.fail = nil, nil
	sum, err = delivery.Edit(context.Background(), st, ed, b, sentEntries(t, st), delivery.EditOptions{Edit: edit}, collect(&got))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 3 || ed.calls[1] != 1 || ed.calls[2] != 2 {
		t.Errorf("second run: summary %+v, calls %v", sum, ed.calls)
	}
	if bb, _ := st.LoadBroadcast("b"); bb.Edit == nil || bb.Edit.Text != "new" {
		t.Errorf("the broadcast does not record the edit: %+v", bb.Edit)
	}
}
