package delivery_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// A channel numbers its own messages: its ids go to channels.deleteMessages
// for that channel only, while users' and basic groups' ids (the account's
// own) share calls. A channel the peer cache forgot cannot be named and
// fails alone; an entry journaled under a channel's own positive id (before
// chats had Bot API ids) is found a channel by the cache.
func TestRetractGroupsChannelIDsByChannel(t *testing.T) {
	st := openStore(t)
	b := store.Broadcast{ID: "b", BaseID: "b", Run: 1, Text: "hi", State: store.StateFinished}
	if err := st.SaveBroadcast(b); err != nil {
		t.Fatal(err)
	}
	news := store.Peer{Kind: store.KindChannel, ID: store.ChannelPeerID(7), AccessHash: 70}
	forum := store.Peer{Kind: store.KindChannel, ID: store.ChannelPeerID(8), AccessHash: 80, Megagroup: true, Forum: true}
	legacy := store.Peer{Kind: store.KindChannel, ID: 9, AccessHash: 90} // cached by its own id, as before
	for key, p := range map[string]store.Peer{"@news": news, "@forum": forum, "@legacy": legacy} {
		if err := st.SavePeer(key, p); err != nil {
			t.Fatal(err)
		}
	}
	sent := map[int64][]int{
		1:                          {5, 6}, // a user: the account's ids
		store.ChatPeerID(1):        {7},    // basic group 1, not user 1
		news.ID:                    {5, 6}, // the channel's own ids 5 and 6
		forum.ID:                   {5},    // and another channel's 5
		9:                          {11},   // the legacy channel entry
		store.ChannelPeerID(12345): {1, 2}, // a channel not in the cache
	}
	for peer, ids := range sent {
		if err := st.MarkSent("b", peer, ids...); err != nil {
			t.Fatal(err)
		}
	}
	d := &fakeDeleter{}
	var got []delivery.Change
	sum, err := delivery.Retract(context.Background(), st, d, b, sentEntries(t, st), delivery.RetractOptions{PerCall: 100, Whole: true}, collect(&got))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 5 || sum.Failed != 1 {
		t.Fatalf("summary %+v, outcomes %v", sum, byStatus(got))
	}
	calls := map[int64][]int{}
	for i, ch := range d.channels {
		if _, dup := calls[ch]; dup {
			t.Errorf("two calls for channel %d", ch)
		}
		ids := slices.Clone(d.calls[i])
		slices.Sort(ids)
		calls[ch] = ids
	}
	want := map[int64][]int{0: {5, 6, 7}, news.ID: {5, 6}, forum.ID: {5}, store.ChannelPeerID(9): {11}}
	if len(calls) != len(want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	for ch, ids := range want {
		if !slices.Equal(calls[ch], ids) {
			t.Errorf("channel %d: ids %v, want %v", ch, calls[ch], ids)
		}
	}
	if d.channels[0] != 0 {
		t.Errorf("the account's own ids did not go first: %v", d.channels)
	}
	for _, c := range got {
		if c.Entry.PeerID == store.ChannelPeerID(12345) && (c.Status != fanout.StatusFailed || !errors.Is(c.Err, delivery.ErrPeerForgotten)) {
			t.Errorf("the forgotten channel: %+v", c)
		}
	}
}

// Two places in one chat, written two ways so that only resolving shows
// it: the first is sent to, the other fails with its reason (it is not
// dropped as a duplicate: it asked for somewhere else), journaled by its
// own name, not over the chat's entry. The same topic written twice is
// one send and one line.
func TestRunTwoPlacesInOneChat(t *testing.T) {
	club := store.ChannelPeerID(5)
	rs := parseAll(t, "@club_forum/2", "t.me/c/5/3", "t.me/club_forum/2", "@alice")
	st, b := begin(t, rs)
	m := &fakeMessenger{peers: map[string]int64{"@club_forum/2": club, "id:-1000000000005/3": club, "@alice": 1}}
	var got results
	sum, err := delivery.Run(context.Background(), st, m, b, rs, fanout.Options{Concurrency: 1, OnResult: got.add})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 3 || sum.Sent != 2 || sum.Failed != 1 || m.sendCount(club) != 1 {
		t.Fatalf("summary %+v, %d sends to the chat", sum, m.sendCount(club))
	}
	res := got.byRecipient()["t.me/c/5/3"]
	var conflict *delivery.PlaceConflictError
	if res.Status != fanout.StatusFailed || !errors.As(res.Err, &conflict) || conflict.Other != "@club_forum/2" {
		t.Fatalf("t.me/c/5/3: %+v", res)
	}
	e, ok, err := st.Entry(b.ID, club)
	if err != nil || !ok || e.Status != store.EntrySent || e.Recipient != "@club_forum/2" {
		t.Errorf("the chat's entry %+v, %v, %v", e, ok, err)
	}
	es, _ := st.Entries(b.ID)
	failed := 0
	for _, e := range es {
		if e.Status == store.EntryFailed && e.Recipient == "t.me/c/5/3" && e.PeerID == 0 {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("the conflict is not journaled by its name: %+v", es)
	}
}
