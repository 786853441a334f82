package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

const account = int64(777)

func baseSpec() delivery.Spec {
	return delivery.Spec{
		Text:       "hello",
		ParseMode:  "plain",
		Recipients: []string{"@alice", "@bob"},
	}
}

var baseKeys = []string{"@alice", "@bob"}

// --- BaseID ---

func TestBaseIDDeterministic(t *testing.T) {
	a := delivery.BaseID(account, baseSpec(), baseKeys)
	b := delivery.BaseID(account, baseSpec(), append([]string(nil), baseKeys...))
	if a != b {
		t.Fatalf("same inputs gave %q and %q", a, b)
	}
	if a == "" {
		t.Fatal("empty id")
	}
}

func TestBaseIDRecipientOrder(t *testing.T) {
	s1 := baseSpec()
	s2 := baseSpec()
	s2.Recipients = []string{"@bob", "@alice"}
	keys := []string{"@alice", "@bob", "+15550001"}
	rev := []string{"+15550001", "@bob", "@alice"}
	a := delivery.BaseID(account, s1, keys)
	b := delivery.BaseID(account, s2, rev)
	if a != b {
		t.Fatalf("recipient order changed the id: %q vs %q", a, b)
	}
	// BaseID must not reorder the caller's slice.
	if rev[0] != "+15550001" || rev[2] != "@alice" {
		t.Fatalf("BaseID modified its keys argument: %v", rev)
	}
}

func TestBaseIDDiffers(t *testing.T) {
	base := delivery.BaseID(account, baseSpec(), baseKeys)
	sched := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name    string
		account int64
		spec    func(*delivery.Spec)
		keys    []string
	}{
		{name: "text", spec: func(s *delivery.Spec) { s.Text = "hello!" }},
		{name: "parse mode", spec: func(s *delivery.Spec) { s.ParseMode = "html" }},
		{name: "silent", spec: func(s *delivery.Spec) { s.Silent = true }},
		{name: "schedule", spec: func(s *delivery.Spec) { s.Schedule = sched }},
		{name: "account", account: account + 1},
		{name: "recipient added", keys: []string{"@alice", "@bob", "@carol"}},
		{name: "recipient removed", keys: []string{"@alice"}},
		{name: "recipient replaced", keys: []string{"@alice", "@carol"}},
	}
	seen := map[string]string{base: "base"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc := account
			if c.account != 0 {
				acc = c.account
			}
			s := baseSpec()
			if c.spec != nil {
				c.spec(&s)
			}
			keys := baseKeys
			if c.keys != nil {
				keys = c.keys
			}
			id := delivery.BaseID(acc, s, keys)
			if other, ok := seen[id]; ok {
				t.Fatalf("id %q same as for %s", id, other)
			}
			seen[id] = c.name
		})
	}
	// Two different schedules differ from each other too.
	s1, s2 := baseSpec(), baseSpec()
	s1.Schedule = sched
	s2.Schedule = sched.Add(time.Minute)
	if delivery.BaseID(account, s1, baseKeys) == delivery.BaseID(account, s2, baseKeys) {
		t.Error("different schedules gave the same id")
	}
}

// --- RandomID ---

func TestRandomID(t *testing.T) {
	if a, b := delivery.RandomID("abc", 42, 0), delivery.RandomID("abc", 42, 0); a != b {
		t.Fatalf("not deterministic: %d vs %d", a, b)
	}
	ids := map[int64]string{}
	add := func(name string, v int64) {
		t.Helper()
		if v == 0 {
			t.Errorf("%s: random id is 0", name)
		}
		if other, ok := ids[v]; ok {
			t.Errorf("%s: same random id as %s", name, other)
		}
		ids[v] = name
	}
	add("base", delivery.RandomID("abc", 42, 0))
	add("other broadcast", delivery.RandomID("abd", 42, 0))
	add("other broadcast run", delivery.RandomID("abc-2", 42, 0))
	add("other peer", delivery.RandomID("abc", 43, 0))
	add("negative peer", delivery.RandomID("abc", -42, 0))
	add("part 1", delivery.RandomID("abc", 42, 1))
	add("part 2", delivery.RandomID("abc", 42, 2))
	// Never 0, over a spread of inputs.
	for i := range 2000 {
		if v := delivery.RandomID(fmt.Sprint("b", i%7), int64(i), i%3); v == 0 {
			t.Fatalf("RandomID(b%d, %d, %d) = 0", i%7, i, i%3)
		}
	}
}

// --- Begin ---

func openStore(t *testing.T) *store.Store {
	t.Helper()
	// A subdirectory: t.TempDir itself (0755) is not private enough for Open.
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustBegin(t *testing.T, st *store.Store, spec delivery.Spec, keys []string, o delivery.BeginOptions) delivery.Plan {
	t.Helper()
	p, err := delivery.Begin(st, account, spec, keys, o)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return p
}

func loadState(t *testing.T, st *store.Store, id string) store.BroadcastState {
	t.Helper()
	b, err := st.LoadBroadcast(id)
	if err != nil {
		t.Fatalf("LoadBroadcast(%s): %v", id, err)
	}
	return b.State
}

func TestBeginFirstRun(t *testing.T) {
	st := openStore(t)
	spec := baseSpec()
	p := mustBegin(t, st, spec, baseKeys, delivery.BeginOptions{})
	base := delivery.BaseID(account, spec, baseKeys)
	b := p.Broadcast
	if b.ID != base || b.BaseID != base || b.Run != 1 {
		t.Fatalf("got id %q base %q run %d, want %q %q 1", b.ID, b.BaseID, b.Run, base, base)
	}
	if p.Resumed || p.Stale != nil {
		t.Fatalf("first run: Resumed %v Stale %v", p.Resumed, p.Stale)
	}
	if b.State != store.StateRunning {
		t.Fatalf("state %q", b.State)
	}
	if got := loadState(t, st, base); got != store.StateRunning {
		t.Fatalf("journaled state %q", got)
	}
	saved, _ := st.LoadBroadcast(base)
	if saved.AccountID != account || saved.Text != spec.Text || len(saved.Spec) == 0 {
		t.Fatalf("saved broadcast %+v", saved)
	}
}

// The record keeps the list once: in Recipients, not again in the spec;
// SpecOf gives the whole spec back, and reads a record that has both.
func TestBeginStoresTheListOnce(t *testing.T) {
	st := openStore(t)
	spec := baseSpec()
	p := mustBegin(t, st, spec, baseKeys, delivery.BeginOptions{})
	saved, err := st.LoadBroadcast(p.Broadcast.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(saved.Spec, []byte(spec.Recipients[0])) {
		t.Errorf("spec repeats the recipients: %s", saved.Spec)
	}
	got, err := delivery.SpecOf(saved)
	if err != nil || !slices.Equal(got.Recipients, spec.Recipients) || got.Text != spec.Text {
		t.Fatalf("SpecOf = %+v, %v; want the recipients %v back", got, err, spec.Recipients)
	}
	old := saved
	old.Recipients = []string{"@elsewhere"} // schema 1 had both; the spec's win
	old.Spec, _ = json.Marshal(spec)
	if got, err := delivery.SpecOf(old); err != nil || !slices.Equal(got.Recipients, spec.Recipients) {
		t.Errorf("SpecOf of a schema 1 record = %+v, %v", got, err)
	}
	old.Spec = []byte("{")
	if _, err := delivery.SpecOf(old); err == nil {
		t.Error("SpecOf of a damaged spec: no error")
	}
}

func TestBeginResumesUnfinished(t *testing.T) {
	st := openStore(t)
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	// Interrupted (or crashed while running): both are unfinished.
	for _, state := range []store.BroadcastState{store.StateRunning, store.StateInterrupted, store.StateStopped} {
		if err := st.SetState(first.Broadcast.ID, state); err != nil {
			t.Fatal(err)
		}
		p := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
		if !p.Resumed || p.Broadcast.ID != first.Broadcast.ID || p.Broadcast.Run != 1 {
			t.Fatalf("state %s: Resumed %v id %q run %d, want resume of %q", state, p.Resumed, p.Broadcast.ID, p.Broadcast.Run, first.Broadcast.ID)
		}
		if p.Stale != nil {
			t.Fatalf("state %s: Stale set on resume", state)
		}
		if got := loadState(t, st, first.Broadcast.ID); got != store.StateRunning {
			t.Fatalf("state %s: after resume journaled state %q, want running", state, got)
		}
	}
}

func TestBeginAfterFinishedStartsRun2(t *testing.T) {
	st := openStore(t)
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	if err := st.SetState(first.Broadcast.ID, store.StateFinished); err != nil {
		t.Fatal(err)
	}
	p := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	base := delivery.BaseID(account, baseSpec(), baseKeys)
	if p.Resumed || p.Broadcast.ID != base+"-2" || p.Broadcast.Run != 2 || p.Broadcast.BaseID != base {
		t.Fatalf("got Resumed %v id %q run %d base %q, want new run %q-2", p.Resumed, p.Broadcast.ID, p.Broadcast.Run, p.Broadcast.BaseID, base)
	}
	if p.Stale != nil {
		t.Fatal("a finished broadcast is not stale")
	}
	if got := loadState(t, st, first.Broadcast.ID); got != store.StateFinished {
		t.Fatalf("run 1 state changed to %q", got)
	}
	// Run 2 is now the one an identical Begin resumes.
	again := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	if !again.Resumed || again.Broadcast.ID != base+"-2" {
		t.Fatalf("got Resumed %v id %q, want resume of run 2", again.Resumed, again.Broadcast.ID)
	}
	// And after it finishes, run 3.
	if err := st.SetState(base+"-2", store.StateFinished); err != nil {
		t.Fatal(err)
	}
	third := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	if third.Resumed || third.Broadcast.ID != base+"-3" || third.Broadcast.Run != 3 {
		t.Fatalf("got Resumed %v id %q run %d, want run 3", third.Resumed, third.Broadcast.ID, third.Broadcast.Run)
	}
}

func TestBeginNewForcesNewRun(t *testing.T) {
	st := openStore(t)
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	p := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{New: true})
	if p.Resumed || p.Broadcast.ID == first.Broadcast.ID || p.Broadcast.Run != 2 {
		t.Fatalf("New: Resumed %v id %q run %d", p.Resumed, p.Broadcast.ID, p.Broadcast.Run)
	}
	if p.Broadcast.ID != first.Broadcast.ID+"-2" {
		t.Fatalf("New: id %q, want %q", p.Broadcast.ID, first.Broadcast.ID+"-2")
	}
}

func TestBeginStaleNotResumed(t *testing.T) {
	st := openStore(t)
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{})
	if err := st.SetState(first.Broadcast.ID, store.StateInterrupted); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(25 * time.Hour)
	p := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{Now: later})
	if p.Resumed {
		t.Fatal("a broadcast untouched for 25h was resumed")
	}
	if p.Broadcast.ID != first.Broadcast.ID+"-2" || p.Broadcast.Run != 2 {
		t.Fatalf("got id %q run %d, want run 2", p.Broadcast.ID, p.Broadcast.Run)
	}
	if p.Stale == nil || p.Stale.ID != first.Broadcast.ID {
		t.Fatalf("Stale = %+v, want %q", p.Stale, first.Broadcast.ID)
	}
	// Just within the window it is still resumed.
	st2 := openStore(t)
	f2 := mustBegin(t, st2, baseSpec(), baseKeys, delivery.BeginOptions{})
	p2 := mustBegin(t, st2, baseSpec(), baseKeys, delivery.BeginOptions{Now: time.Now().Add(23 * time.Hour)})
	if !p2.Resumed || p2.Broadcast.ID != f2.Broadcast.ID {
		t.Fatalf("23h later: Resumed %v id %q", p2.Resumed, p2.Broadcast.ID)
	}
}

func TestBeginWithID(t *testing.T) {
	st := openStore(t)
	o := delivery.BeginOptions{ID: "weekly"}
	first := mustBegin(t, st, baseSpec(), baseKeys, o)
	if first.Resumed || first.Broadcast.ID != "weekly" {
		t.Fatalf("first: Resumed %v id %q", first.Resumed, first.Broadcast.ID)
	}
	if got := loadState(t, st, "weekly"); got != store.StateRunning {
		t.Fatalf("state %q", got)
	}
	second := mustBegin(t, st, baseSpec(), baseKeys, o)
	if !second.Resumed || second.Broadcast.ID != "weekly" {
		t.Fatalf("second: Resumed %v id %q", second.Resumed, second.Broadcast.ID)
	}

	other := baseSpec()
	other.Text = "something else"
	_, err := delivery.Begin(st, account, other, baseKeys, o)
	if !errors.Is(err, delivery.ErrSpecMismatch) {
		t.Fatalf("different text: err %v, want ErrSpecMismatch", err)
	}
	_, err = delivery.Begin(st, account, baseSpec(), []string{"@alice"}, o)
	if !errors.Is(err, delivery.ErrSpecMismatch) {
		t.Fatalf("different recipients: err %v, want ErrSpecMismatch", err)
	}
}

// --- Run ---

// fakeMessenger resolves recipients by Key from peers and records sends.
type fakeMessenger struct {
	peers map[string]int64
	// fail, if set, is asked before each send; attempt is 1-based per peer.
	fail func(peerID int64, attempt int) error

	mu        sync.Mutex
	sends     map[int64]int
	randomIDs map[int64][]int64
}

func (f *fakeMessenger) Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	id, ok := f.peers[r.Key]
	if !ok {
		return store.Peer{}, fmt.Errorf("no such user %s", r.Key)
	}
	return store.Peer{Kind: store.KindUser, ID: id, AccessHash: id * 10}, nil
}

func (f *fakeMessenger) Send(ctx context.Context, r recipient.Recipient, p store.Peer, randomID func(part int) int64) ([]int, error) {
	f.mu.Lock()
	if f.sends == nil {
		f.sends = map[int64]int{}
		f.randomIDs = map[int64][]int64{}
	}
	f.sends[p.ID]++
	n := f.sends[p.ID]
	f.randomIDs[p.ID] = append(f.randomIDs[p.ID], randomID(0))
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(p.ID, n); err != nil {
			return nil, err
		}
	}
	return []int{msgID(p.ID)}, nil
}

func (f *fakeMessenger) sendCount(peer int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[peer]
}

func (f *fakeMessenger) totalSends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.sends {
		n += c
	}
	return n
}

func msgID(peer int64) int { return int(peer) + 1000 }

func parseAll(t *testing.T, in ...string) []recipient.Recipient {
	t.Helper()
	rs := make([]recipient.Recipient, len(in))
	for i, s := range in {
		r, err := recipient.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = r
	}
	return rs
}

func keysOf(rs []recipient.Recipient) []string {
	k := make([]string, len(rs))
	for i, r := range rs {
		k[i] = r.Key
	}
	return k
}

// begin starts a broadcast to rs in a fresh store.
func begin(t *testing.T, rs []recipient.Recipient) (*store.Store, store.Broadcast) {
	t.Helper()
	st := openStore(t)
	spec := baseSpec()
	spec.Recipients = nil
	for _, r := range rs {
		spec.Recipients = append(spec.Recipients, r.Input)
	}
	p := mustBegin(t, st, spec, keysOf(rs), delivery.BeginOptions{})
	return st, p.Broadcast
}

// results collects OnResult calls.
type results struct {
	mu   sync.Mutex
	list []fanout.Result
}

func (r *results) add(res fanout.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, res)
}

func (r *results) byRecipient() map[string]fanout.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]fanout.Result{}
	for _, res := range r.list {
		m[res.Target.Recipient] = res
	}
	return m
}

func (r *results) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

func entriesByPeer(t *testing.T, st *store.Store, id string) map[int64]store.Entry {
	t.Helper()
	es, err := st.Entries(id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int64]store.Entry{}
	for _, e := range es {
		m[e.PeerID] = e
	}
	return m
}

func TestRunSendsEveryoneOnce(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby", "@carol", "@dave1")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1, "@bobby": 2, "@carol": 3, "@dave1": 4}}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 3, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Total != 4 || sum.Sent != 4 || sum.Failed != 0 || sum.Skipped != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if got.len() != 4 {
		t.Fatalf("%d results, want 4", got.len())
	}
	entries := entriesByPeer(t, st, b.ID)
	for key, peer := range m.peers {
		if n := m.sendCount(peer); n != 1 {
			t.Errorf("%s: %d sends", key, n)
		}
		e, ok := entries[peer]
		if !ok {
			t.Errorf("%s: no journal entry", key)
			continue
		}
		if e.Status != store.EntrySent || e.MessageID != msgID(peer) || e.Recipient != key {
			t.Errorf("%s: entry %+v, want sent with message id %d", key, e, msgID(peer))
		}
		res := got.byRecipient()[key]
		if res.Status != fanout.StatusSent || res.Receipt.PeerID != peer || res.Receipt.MessageID != msgID(peer) {
			t.Errorf("%s: result %+v", key, res)
		}
	}
	if s := loadState(t, st, b.ID); s != store.StateFinished {
		t.Fatalf("state %q, want finished", s)
	}
}

func TestRunSkipsAlreadySent(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby")
	st, b := begin(t, rs)
	// An earlier run delivered to alice (peer 1) as message 555.
	if err := st.MarkPending(b.ID, store.Entry{Recipient: "@alice", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(b.ID, 1, 555); err != nil {
		t.Fatal(err)
	}
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1, "@bobby": 2}}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 2, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := m.sendCount(1); n != 0 {
		t.Fatalf("alice was sent to %d times again", n)
	}
	if n := m.sendCount(2); n != 1 {
		t.Fatalf("bob: %d sends", n)
	}
	if sum.Skipped != 1 || sum.Sent != 1 || sum.Total != 2 {
		t.Fatalf("summary %+v", sum)
	}
	res := got.byRecipient()["@alice"]
	if res.Status != fanout.StatusSkipped || res.Receipt.PeerID != 1 || res.Receipt.MessageID != 555 || !res.Receipt.Skipped {
		t.Fatalf("alice result %+v, want skipped with peer 1 message 555", res)
	}
	if e := entriesByPeer(t, st, b.ID)[1]; e.Status != store.EntrySent || e.MessageID != 555 {
		t.Fatalf("alice entry changed: %+v", e)
	}
	if s := loadState(t, st, b.ID); s != store.StateFinished {
		t.Fatalf("state %q", s)
	}
}

func TestRunDuplicatePeerSentOnce(t *testing.T) {
	// The same person named twice, once by username and once by phone.
	rs := parseAll(t, "@alice", "+15550001", "@bobby")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1, "+15550001": 1, "@bobby": 2}}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 3, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := m.sendCount(1); n != 1 {
		t.Fatalf("peer 1: %d sends, want 1", n)
	}
	if n := m.totalSends(); n != 2 {
		t.Fatalf("%d sends in all, want 2", n)
	}
	if got.len() != 2 {
		t.Fatalf("%d results, want 2: %+v", got.len(), got.list)
	}
	if sum.Total != 2 || sum.Sent != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if s := loadState(t, st, b.ID); s != store.StateFinished {
		t.Fatalf("state %q", s)
	}
}

func TestRunPermanentErrorJournaledFailed(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby")
	st, b := begin(t, rs)
	blocked := errors.New("USER_IS_BLOCKED: this user has blocked the account")
	m := &fakeMessenger{
		peers: map[string]int64{"@alice": 1, "@bobby": 2},
		fail: func(peer int64, _ int) error {
			if peer == 2 {
				return blocked
			}
			return nil
		},
	}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 2, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := m.sendCount(2); n != 1 {
		t.Fatalf("a permanent error was retried: %d sends", n)
	}
	if sum.Sent != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	res := got.byRecipient()["@bobby"]
	if res.Status != fanout.StatusFailed || !errors.Is(res.Err, blocked) || res.Receipt.PeerID != 2 {
		t.Fatalf("bob result %+v", res)
	}
	e, ok := entriesByPeer(t, st, b.ID)[2]
	if !ok || e.Status != store.EntryFailed || e.Error != blocked.Error() || e.Recipient != "@bobby" {
		t.Fatalf("bob entry %+v (found %v), want failed with %q", e, ok, blocked.Error())
	}
	if e := entriesByPeer(t, st, b.ID)[1]; e.Status != store.EntrySent {
		t.Fatalf("alice entry %+v", e)
	}
	// Every recipient has a final outcome: the broadcast is finished.
	if s := loadState(t, st, b.ID); s != store.StateFinished {
		t.Fatalf("state %q, want finished", s)
	}
}

func TestRunResolveFailureJournaled(t *testing.T) {
	rs := parseAll(t, "@alice", "@nobody")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1}}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Sent != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	es, err := st.Entries(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Recipient == "@nobody" {
			found = true
			if e.Status != store.EntryFailed || !strings.Contains(e.Error, "no such user") {
				t.Fatalf("entry %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("unresolved recipient not journaled: %+v", es)
	}
}

func TestRunFatalStops(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby", "@carol", "@dave1")
	st, b := begin(t, rs)
	spam := errors.New("PEER_FLOOD")
	m := &fakeMessenger{
		peers: map[string]int64{"@alice": 1, "@bobby": 2, "@carol": 3, "@dave1": 4},
		fail: func(peer int64, _ int) error {
			if peer == 2 {
				return fanout.Fatal(spam)
			}
			return nil
		},
	}
	var got results
	// One at a time, so that the order is alice, bob (fatal), then nothing.
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 1, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !errors.Is(sum.Stopped, spam) {
		t.Fatalf("Stopped = %v", sum.Stopped)
	}
	if m.sendCount(3) != 0 || m.sendCount(4) != 0 {
		t.Fatalf("sent after a fatal error: carol %d dave %d", m.sendCount(3), m.sendCount(4))
	}
	byR := got.byRecipient()
	if byR["@alice"].Status != fanout.StatusSent {
		t.Fatalf("alice %+v", byR["@alice"])
	}
	for _, key := range []string{"@carol", "@dave1"} {
		res, ok := byR[key]
		if !ok || res.Status != fanout.StatusNotSent || !errors.Is(res.Err, fanout.ErrNotSent) || !errors.Is(res.Err, spam) {
			t.Fatalf("%s: result %+v (reported %v), want not sent with ErrNotSent", key, res, ok)
		}
	}
	if s := loadState(t, st, b.ID); s != store.StateStopped {
		t.Fatalf("state %q, want stopped", s)
	}
	// Not-sent recipients are not confirmed, and are not journaled as failed.
	entries := entriesByPeer(t, st, b.ID)
	for _, peer := range []int64{3, 4} {
		if e, ok := entries[peer]; ok && e.Status != store.EntryPending {
			t.Fatalf("peer %d journaled %+v", peer, e)
		}
	}
	if entries[1].Status != store.EntrySent {
		t.Fatalf("alice entry %+v", entries[1])
	}
	// A stopped broadcast is unfinished: the next identical Begin resumes it
	// and sends only to those not confirmed.
	spec := baseSpec()
	spec.Recipients = []string{"@alice", "@bobby", "@carol", "@dave1"}
	p := mustBegin(t, st, spec, keysOf(rs), delivery.BeginOptions{})
	if !p.Resumed || p.Broadcast.ID != b.ID {
		t.Fatalf("not resumed: %+v", p)
	}
	m2 := &fakeMessenger{peers: m.peers}
	sum, err = delivery.Run(context.Background(), st, m2, p.Broadcast, rs, fanout.Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m2.sendCount(1) != 0 || m2.sendCount(2) != 1 || m2.sendCount(3) != 1 || m2.sendCount(4) != 1 {
		t.Fatalf("resume sends %v", m2.sends)
	}
	if sum.Skipped != 1 || sum.Sent != 3 {
		t.Fatalf("resume summary %+v", sum)
	}
}

func TestRunRandomIDStableAcrossRetry(t *testing.T) {
	rs := parseAll(t, "@alice")
	st, b := begin(t, rs)
	m := &fakeMessenger{
		peers: map[string]int64{"@alice": 1},
		fail: func(_ int64, attempt int) error {
			if attempt == 1 {
				return fanout.Temporary(errors.New("connection reset"))
			}
			return nil
		},
	}
	start := time.Now()
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{RetryFor: 5 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Sent != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("retry took %v", d)
	}
	m.mu.Lock()
	ids := append([]int64(nil), m.randomIDs[1]...)
	m.mu.Unlock()
	want := delivery.RandomID(b.ID, 1, 0)
	if len(ids) != 2 {
		t.Fatalf("%d sends, want 2", len(ids))
	}
	for i, id := range ids {
		if id != want {
			t.Fatalf("attempt %d: random_id %d, want RandomID(%q, 1, 0) = %d", i+1, id, b.ID, want)
		}
	}
	e := entriesByPeer(t, st, b.ID)[1]
	if e.Status != store.EntrySent || e.MessageID != msgID(1) || e.Attempts != 2 {
		t.Fatalf("entry %+v, want sent after 2 attempts", e)
	}
}

func TestRunRandomIDsDifferPerPeer(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby", "@carol")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@alice": 1, "@bobby": 2, "@carol": 3}}
	if _, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 3}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for peer, got := range m.randomIDs {
		if len(got) != 1 || got[0] != delivery.RandomID(b.ID, peer, 0) {
			t.Fatalf("peer %d: random ids %v", peer, got)
		}
		ids = append(ids, got[0])
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("two peers share random_id %d", ids[i])
		}
	}
}

// An identical command soon after a finished run is a retry of it, not a
// second message to everyone; after the resend window it is a new run.
func TestBeginWithinResendWindowReentersFinished(t *testing.T) {
	st := openStore(t)
	first := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{ResendAfter: time.Hour})
	if err := st.SetState(first.Broadcast.ID, store.StateFinished); err != nil {
		t.Fatal(err)
	}
	p := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{ResendAfter: time.Hour, Now: time.Now().Add(59 * time.Minute)})
	if !p.Resumed || !p.WasFinished || p.Broadcast.ID != first.Broadcast.ID {
		t.Fatalf("59m later: Resumed %v WasFinished %v id %q, want the first broadcast", p.Resumed, p.WasFinished, p.Broadcast.ID)
	}
	if err := st.SetState(first.Broadcast.ID, store.StateFinished); err != nil {
		t.Fatal(err)
	}
	fresh := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{ResendAfter: time.Hour, New: true})
	if fresh.Resumed || fresh.Broadcast.Run != 2 {
		t.Fatalf("--new: Resumed %v run %d, want run 2", fresh.Resumed, fresh.Broadcast.Run)
	}
	if err := st.SetState(fresh.Broadcast.ID, store.StateFinished); err != nil {
		t.Fatal(err)
	}
	later := mustBegin(t, st, baseSpec(), baseKeys, delivery.BeginOptions{ResendAfter: time.Hour, Now: time.Now().Add(61 * time.Minute)})
	if later.Resumed || later.Broadcast.Run != 3 {
		t.Fatalf("61m later: Resumed %v run %d, want run 3", later.Resumed, later.Broadcast.Run)
	}
}

// Recipients the journal has as sent are settled without a resolve or a
// send, so a re-run of a delivered broadcast touches nothing.
func TestRunSettlesDeliveredWithoutResolving(t *testing.T) {
	rs := parseAll(t, "@alice", "@bobby")
	st, b := begin(t, rs)
	for peer, r := range map[int64]string{1: "@alice", 2: "@bobby"} {
		if err := st.MarkPending(b.ID, store.Entry{Recipient: r, PeerID: peer}); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkSent(b.ID, peer, int(peer)*100); err != nil {
			t.Fatal(err)
		}
	}
	m := &fakeMessenger{peers: map[string]int64{}} // resolving anyone would fail
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 2, Rate: 0.001, OnResult: got.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Skipped != 2 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want 2 skipped", sum)
	}
	if res := got.byRecipient()["@bobby"]; res.Receipt.PeerID != 2 || res.Receipt.MessageID != 200 {
		t.Fatalf("bobby %+v, want peer 2 message 200", res)
	}
}
