package telegram

// chats_test.go: groups, channels and topics against a scripted server
// (tgmock's Invoker): the requests sent for each kind, per-chat pacing and
// slow mode under fake time, dialog paging, migration, routing of deletes,
// and the chat errors' classes and words.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgmock"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// scripted is a Client whose server is f.
func scripted(st *store.Store, f func(req bin.Encoder) (bin.Encoder, error)) *Client {
	return &Client{opts: Options{Store: st}, api: tg.NewClient(tgmock.Invoker(f))}
}

// sent answers a send with the id of its random_id.
func sent(id int, randomID int64) *tg.Updates {
	return &tg.Updates{Updates: []tg.UpdateClass{&tg.UpdateMessageID{ID: id, RandomID: randomID}}, Users: []tg.UserClass{}, Chats: []tg.ChatClass{}}
}

var (
	forumPeer = store.Peer{Kind: store.KindChannel, ID: store.ChannelPeerID(2001), AccessHash: 77, FirstName: "Forum", Megagroup: true, Forum: true}
	groupPeer = store.Peer{Kind: store.KindChat, ID: store.ChatPeerID(1001), FirstName: "Family"}
)

func mustParse(t *testing.T, s string) recipient.Recipient {
	t.Helper()
	r, err := recipient.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A topic post carries reply_to with the topic's id and no top_msg_id; a
// chat is named by its own id, not the Bot API's; the General topic and the
// chat itself carry no reply_to. Text, media and albums alike.
func TestSendsNameTheChatAndTopic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     store.Peer
		topic int
		files int
	}{
		{"topic text", forumPeer, 42, 0},
		{"topic photo", forumPeer, 42, 1},
		{"topic album", forumPeer, 42, 2},
		{"general", forumPeer, 0, 0},
		{"basic group", groupPeer, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				peer  tg.InputPeerClass
				reply tg.InputReplyToClass
			)
			c := scripted(nil, func(req bin.Encoder) (bin.Encoder, error) {
				switch r := req.(type) {
				case *tg.MessagesSendMessageRequest:
					peer, reply = r.Peer, r.ReplyTo
					return sent(1, r.RandomID), nil
				case *tg.MessagesSendMediaRequest:
					peer, reply = r.Peer, r.ReplyTo
					return sent(1, r.RandomID), nil
				case *tg.MessagesSendMultiMediaRequest:
					peer, reply = r.Peer, r.ReplyTo
					u := sent(1, r.MultiMedia[0].RandomID)
					u.Updates = append(u.Updates, &tg.UpdateMessageID{ID: 2, RandomID: r.MultiMedia[1].RandomID})
					return u, nil
				}
				return nil, fmt.Errorf("unexpected %T", req)
			})
			m, err := Prepare(Content{Text: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.files {
				m.files = append(m.files, attachment{})
				m.media = append(m.media, &tg.InputMediaPhoto{ID: &tg.InputPhoto{ID: int64(i + 1)}})
			}
			if _, err := c.send(context.Background(), tc.p, tc.topic, m, func(part int) int64 { return int64(part + 1) }, nil); err != nil {
				t.Fatal(err)
			}
			switch want := tc.p.RawID(); v := peer.(type) {
			case *tg.InputPeerChannel:
				if v.ChannelID != want || v.AccessHash != tc.p.AccessHash {
					t.Errorf("peer %+v, want channel %d", v, want)
				}
			case *tg.InputPeerChat:
				if v.ChatID != want {
					t.Errorf("peer %+v, want chat %d", v, want)
				}
			default:
				t.Errorf("peer %T", peer)
			}
			r, _ := reply.(*tg.InputReplyToMessage)
			switch {
			case tc.topic == 0 && reply != nil:
				t.Errorf("reply_to %+v to the chat itself", reply)
			case tc.topic != 0 && (r == nil || r.ReplyToMsgID != tc.topic || r.TopMsgID != 0):
				t.Errorf("reply_to %+v, want reply_to_msg_id %d only", reply, tc.topic)
			}
		})
	}
	if replyTo(generalTopic) != nil {
		t.Error("the General topic got a reply_to")
	}
}

// The per-chat pace: a second apart, at most 20 in any minute; slow mode
// (hold) keeps the next message back and is learnt as the interval.
func TestChatPacer(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cp := newChatPacer()
	cp.now = func() time.Time { return now }
	if d, _ := cp.reserve(store.Peer{Kind: store.KindUser, ID: 5}); d != 0 {
		t.Errorf("a user is paced: %s", d)
	}
	var at []time.Duration
	for range 22 {
		d, _ := cp.reserve(groupPeer)
		at = append(at, d)
	}
	for i := 1; i < 20; i++ {
		if at[i] != time.Duration(i)*time.Second {
			t.Fatalf("message %d at +%s, want +%ds", i+1, at[i], i)
		}
	}
	if at[20] != time.Minute || at[21] != time.Minute+time.Second {
		t.Errorf("messages 21 and 22 at +%s and +%s, want +1m and +1m1s", at[20], at[21])
	}
	if d, _ := cp.reserve(forumPeer); d != 0 {
		t.Errorf("another chat waits %s for this one's pace", d)
	}
	// Slow mode: the message at +0 went; the next, reserved for +1s, was
	// refused with 9 s left of a 10 s interval.
	slow := newChatPacer()
	slow.now = func() time.Time { return now }
	slow.reserve(forumPeer)
	now = now.Add(time.Second)
	slow.reserve(forumPeer)
	slow.hold(forumPeer, 9*time.Second)
	if d, isSlow := slow.reserve(forumPeer); d != 9*time.Second || !isSlow {
		t.Errorf("after SLOWMODE_WAIT_9: wait %s (slow mode %v), want 9s", d, isSlow)
	}
	now = now.Add(9 * time.Second)
	if d, isSlow := slow.reserve(forumPeer); d != 10*time.Second || !isSlow {
		t.Errorf("the next part waits %s (slow mode %v), want the learnt 10s interval", d, isSlow)
	}
}

// SLOWMODE_WAIT_X holds its chat's next part X seconds and the part is sent
// again with the same random_id; the other chat's parts do not wait. A wait
// longer than allowed fails that recipient, as a permanent error.
func TestSlowModeWaitsInItsChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu       sync.Mutex
			refused  bool
			sentAt   = map[int64][]time.Duration{}
			randomID = map[int64][]int64{}
			start    = time.Now()
		)
		c := scripted(nil, func(req bin.Encoder) (bin.Encoder, error) {
			r := req.(*tg.MessagesSendMessageRequest)
			mu.Lock()
			defer mu.Unlock()
			var id int64
			switch p := r.Peer.(type) {
			case *tg.InputPeerChannel:
				id = p.ChannelID
				if len(sentAt[id]) == 1 && !refused {
					refused = true
					return nil, tgerr.New(420, "SLOWMODE_WAIT_30")
				}
			case *tg.InputPeerChat:
				id = p.ChatID
			}
			sentAt[id] = append(sentAt[id], time.Since(start))
			randomID[id] = append(randomID[id], r.RandomID)
			return sent(len(sentAt[id]), r.RandomID), nil
		})
		m, err := Prepare(Content{Text: "part one\n\n" + longText(4090) + "\n\n" + longText(10), Split: true})
		if err != nil {
			t.Fatal(err)
		}
		var waits []ChatWait
		ms := &Messenger{c: c, m: m, pacer: newChatPacer(), MaxChatWait: time.Minute, OnChatWait: func(w ChatWait) {
			mu.Lock()
			waits = append(waits, w)
			mu.Unlock()
		}}
		var wg sync.WaitGroup
		for _, p := range []store.Peer{forumPeer, groupPeer} {
			wg.Go(func() {
				r := recipient.Recipient{Input: Recipient(p, 0)}
				if _, err := c.send(context.Background(), p, 0, m, func(part int) int64 { return p.ID*10 + int64(part) }, ms.pacing(r)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// The second part, tried a second after the first, is refused
		// with 30 s to go: it goes at 31 s, and the third keeps the 31 s
		// interval learnt from that.
		if got := sentAt[2001]; len(got) != 3 || got[1] != 31*time.Second || got[2] != 62*time.Second {
			t.Errorf("forum parts at %v, want +31s and +62s", got)
		}
		if got := sentAt[1001]; len(got) != 3 || got[1] != time.Second || got[2] != 2*time.Second {
			t.Errorf("group parts at %v, want a second apart, whatever the forum waits", got)
		}
		if len(waits) != 2 || !waits[0].SlowMode || waits[0].Wait != 30*time.Second || waits[1].Wait != 31*time.Second {
			t.Errorf("waits announced: %+v, want the refusal's 30s and the next part's 31s", waits)
		}
		if ids := randomID[2001]; len(ids) < 2 || ids[0] == ids[1] {
			t.Errorf("random_ids %v", ids)
		}

		// Over the limit: failed for good, not retried by the engine.
		refused = false
		sentAt = map[int64][]time.Duration{}
		ms.MaxChatWait = 10 * time.Second
		_, err = c.send(context.Background(), forumPeer, 0, m, func(part int) int64 { return int64(part + 1) }, ms.pacing(recipient.Recipient{}))
		var rpc *RPCError
		if !errors.As(err, &rpc) || rpc.Type != "SLOWMODE_WAIT" || fanout.IsTemporary(err) || !tgerr.Is(err, "SLOWMODE_WAIT") {
			t.Errorf("a 30s slow mode with 10s allowed: %v", err)
		}
	})
}

func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

// messages.getDialogs is paged by the last dialog of each page until the
// count is reached; every group and channel is cached under its recipient
// string and id, a migrated group under the supergroup it became, and a
// forum comes with its topics.
func TestChatsPagesAndCaches(t *testing.T) {
	st := openStore(t)
	chats := []tg.ChatClass{
		&tg.Channel{ID: 2001, AccessHash: 11, Title: "Forum", Username: "club_forum", Megagroup: true, Forum: true, Photo: &tg.ChatPhotoEmpty{}},
		&tg.Channel{ID: 2002, AccessHash: 12, Title: "News", Username: "club_news", Broadcast: true, Photo: &tg.ChatPhotoEmpty{}},
		&tg.Channel{ID: 2004, AccessHash: 14, Title: "Private", Megagroup: true, Photo: &tg.ChatPhotoEmpty{}},
		&tg.Chat{ID: 1001, Title: "Family", Photo: &tg.ChatPhotoEmpty{}},
		&tg.Chat{ID: 1002, Title: "Old", Photo: &tg.ChatPhotoEmpty{}, Deactivated: true, MigratedTo: &tg.InputChannel{ChannelID: 2004, AccessHash: 14}},
	}
	peers := []tg.PeerClass{&tg.PeerChannel{ChannelID: 2001}, &tg.PeerChannel{ChannelID: 2002}, &tg.PeerUser{UserID: 5},
		&tg.PeerChannel{ChannelID: 2004}, &tg.PeerChat{ChatID: 1001}, &tg.PeerChat{ChatID: 1002}}
	var offsets []string
	c := scripted(st, func(req bin.Encoder) (bin.Encoder, error) {
		switch r := req.(type) {
		case *tg.MessagesGetDialogsRequest:
			offsets = append(offsets, fmt.Sprint(r.OffsetPeer))
			start := 0
			for i, p := range peers {
				if fmt.Sprint(offsetOf(p)) == fmt.Sprint(r.OffsetPeer) {
					start = i + 1
				}
			}
			end := min(start+2, len(peers))
			var dl []tg.DialogClass
			for _, p := range peers[start:end] {
				dl = append(dl, &tg.Dialog{Peer: p})
			}
			return &tg.MessagesDialogsSlice{Count: len(peers), Dialogs: dl, Messages: []tg.MessageClass{}, Chats: chats,
				Users: []tg.UserClass{&tg.User{ID: 5, AccessHash: 55}}}, nil
		case *tg.MessagesGetForumTopicsRequest:
			return &tg.MessagesForumTopics{Count: 2, Topics: []tg.ForumTopicClass{
				&tg.ForumTopic{ID: 7, Title: "Announcements", Peer: &tg.PeerChannel{ChannelID: 2001}, FromID: &tg.PeerUser{UserID: 5}},
				&tg.ForumTopicDeleted{ID: 6},
				&tg.ForumTopic{ID: 1, Title: "General", Peer: &tg.PeerChannel{ChannelID: 2001}, FromID: &tg.PeerUser{UserID: 5}},
			}, Messages: []tg.MessageClass{}, Chats: []tg.ChatClass{}, Users: []tg.UserClass{}}, nil
		}
		return nil, fmt.Errorf("unexpected %T", req)
	})
	got, err := c.Chats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(offsets) != 3 {
		t.Errorf("%d pages asked for, want 3: %v", len(offsets), offsets)
	}
	want := []string{"@club_forum", "@club_news", "t.me/c/2004", "-1001", "-1002"}
	if len(got) != len(want) {
		t.Fatalf("chats %+v", got)
	}
	for i, ch := range got {
		if ch.Recipient != want[i] {
			t.Errorf("chat %d is %s, want %s", i, ch.Recipient, want[i])
		}
	}
	if !got[1].ReadOnly || got[0].ReadOnly {
		t.Errorf("read-only: forum %v, news %v", got[0].ReadOnly, got[1].ReadOnly)
	}
	if ts := got[0].Topics; len(ts) != 2 || ts[0].Recipient != "@club_forum/7" || ts[1].Recipient != "@club_forum" {
		t.Errorf("topics %+v", ts)
	}
	if got[4].MigratedTo == nil || got[4].MigratedTo.ID != store.ChannelPeerID(2004) {
		t.Errorf("migrated group %+v", got[4])
	}
	for key, wantID := range map[string]int64{
		"@club_forum": store.ChannelPeerID(2001), "id:-1000000002004": store.ChannelPeerID(2004),
		"id:-1001": -1001, "id:-1002": store.ChannelPeerID(2004),
	} {
		p, ok, err := st.LookupPeer(key)
		if err != nil || !ok || p.ID != wantID {
			t.Errorf("cache %s = %+v, %v, %v; want id %d", key, p, ok, err, wantID)
		}
	}
}

func offsetOf(p tg.PeerClass) tg.InputPeerClass {
	switch v := p.(type) {
	case *tg.PeerChannel:
		return &tg.InputPeerChannel{ChannelID: v.ChannelID, AccessHash: int64(v.ChannelID - 1990)}
	case *tg.PeerChat:
		return &tg.InputPeerChat{ChatID: v.ChatID}
	case *tg.PeerUser:
		return &tg.InputPeerUser{UserID: v.UserID, AccessHash: 55}
	}
	return nil
}

// A basic group is asked for by id (no access hash needed, so a bot can
// name one); one that became a supergroup is followed there, and its key
// leads there from then on.
func TestResolveBasicGroupFollowsMigration(t *testing.T) {
	st := openStore(t)
	calls := map[string]int{}
	c := scripted(st, func(req bin.Encoder) (bin.Encoder, error) {
		switch r := req.(type) {
		case *tg.MessagesGetChatsRequest:
			calls["getChats"]++
			switch r.ID[0] {
			case 1001:
				return &tg.MessagesChats{Chats: []tg.ChatClass{&tg.Chat{ID: 1001, Title: "Family", Photo: &tg.ChatPhotoEmpty{}}}}, nil
			case 1002:
				return &tg.MessagesChats{Chats: []tg.ChatClass{&tg.Chat{ID: 1002, Title: "Old", Photo: &tg.ChatPhotoEmpty{}, Deactivated: true,
					MigratedTo: &tg.InputChannel{ChannelID: 2004, AccessHash: 14}}}}, nil
			}
			return nil, tgerr.New(400, "CHAT_ID_INVALID")
		case *tg.ChannelsGetChannelsRequest:
			calls["getChannels"]++
			return &tg.MessagesChats{Chats: []tg.ChatClass{&tg.Channel{ID: 2004, AccessHash: 14, Title: "Club", Megagroup: true, Photo: &tg.ChatPhotoEmpty{}}}}, nil
		}
		return nil, fmt.Errorf("unexpected %T", req)
	})
	ctx := context.Background()
	p, err := c.Resolve(ctx, mustParse(t, "-1001"))
	if err != nil || p != (store.Peer{Kind: store.KindChat, ID: -1001, FirstName: "Family", ResolvedAt: p.ResolvedAt}) {
		t.Fatalf("-1001: %+v, %v", p, err)
	}
	p, err = c.Resolve(ctx, mustParse(t, "-1002"))
	if err != nil || p.ID != store.ChannelPeerID(2004) || p.AccessHash != 14 || !p.Megagroup || KindName(p, 0) != "supergroup" {
		t.Fatalf("-1002: %+v, %v", p, err)
	}
	// The migration is cached: no more questions about the old group.
	before := calls["getChats"]
	if p, err = c.Resolve(ctx, mustParse(t, "-1002")); err != nil || p.ID != store.ChannelPeerID(2004) || calls["getChats"] != before {
		t.Errorf("again: %+v, %v, %d getChats", p, err, calls["getChats"]-before)
	}
	var rpc *RPCError
	if _, err := c.Resolve(ctx, mustParse(t, "-1009")); !errors.As(err, &rpc) || rpc.Type != "CHAT_ID_INVALID" || rpc.Detail == "" {
		t.Errorf("unknown group: %v", err)
	}
	// A channel by id is the cache's or unknown; never asked for.
	if _, err := c.Resolve(ctx, mustParse(t, "t.me/c/5")); !errors.Is(err, ErrUnknownID) {
		t.Errorf("uncached channel: %v", err)
	}
}

// A topic in a chat that is no forum fails before anything is sent, once
// channels.getChannels confirms the cache.
func TestTopicNeedsAForum(t *testing.T) {
	st := openStore(t)
	news := store.Peer{Kind: store.KindChannel, ID: store.ChannelPeerID(2002), AccessHash: 12, Username: "club_news"}
	if err := st.SavePeer("@club_news", news); err != nil {
		t.Fatal(err)
	}
	forum := 0
	c := scripted(st, func(req bin.Encoder) (bin.Encoder, error) {
		if _, ok := req.(*tg.ChannelsGetChannelsRequest); ok {
			forum++
			return &tg.MessagesChats{Chats: []tg.ChatClass{&tg.Channel{ID: 2002, AccessHash: 12, Title: "News", Username: "club_news", Photo: &tg.ChatPhotoEmpty{}, Megagroup: true, Forum: forum > 1}}}, nil
		}
		return nil, fmt.Errorf("unexpected %T", req)
	})
	var rpc *RPCError
	if _, err := c.Resolve(context.Background(), mustParse(t, "t.me/club_news/3")); !errors.As(err, &rpc) || rpc.Type != "NOT_A_FORUM" {
		t.Fatalf("topic of a channel: %v", err)
	}
	// It became a forum: the cache learns it.
	if p, err := c.Resolve(context.Background(), mustParse(t, "@club_news/3")); err != nil || !p.Forum {
		t.Fatalf("after it became a forum: %+v, %v", p, err)
	}
	if p, _, _ := st.LookupPeer("@club_news"); !p.Forum {
		t.Error("the cache did not learn the forum")
	}
}

// A channel's ids go to channels.deleteMessages with the channel; the
// account's own to messages.deleteMessages. getPeerDialogs' chats are keyed
// as the journal keys them.
func TestDeleteAndReadStateByKind(t *testing.T) {
	var got []string
	c := scripted(nil, func(req bin.Encoder) (bin.Encoder, error) {
		switch r := req.(type) {
		case *tg.ChannelsDeleteMessagesRequest:
			ch := r.Channel.(*tg.InputChannel)
			got = append(got, fmt.Sprintf("channel %d/%d %v", ch.ChannelID, ch.AccessHash, r.ID))
			return &tg.MessagesAffectedMessages{Pts: 1, PtsCount: len(r.ID)}, nil
		case *tg.MessagesDeleteMessagesRequest:
			got = append(got, fmt.Sprintf("account %v revoke=%v", r.ID, r.Revoke))
			return &tg.MessagesAffectedMessages{Pts: 1, PtsCount: len(r.ID)}, nil
		case *tg.MessagesGetPeerDialogsRequest:
			return &tg.MessagesPeerDialogs{Dialogs: []tg.DialogClass{
				&tg.Dialog{Peer: &tg.PeerUser{UserID: 1001}, ReadOutboxMaxID: 1},
				&tg.Dialog{Peer: &tg.PeerChat{ChatID: 1001}, ReadOutboxMaxID: 2},
				&tg.Dialog{Peer: &tg.PeerChannel{ChannelID: 2001}, ReadOutboxMaxID: 3},
			}, Messages: []tg.MessageClass{}, Chats: []tg.ChatClass{}, Users: []tg.UserClass{}}, nil
		}
		return nil, fmt.Errorf("unexpected %T", req)
	})
	ctx := context.Background()
	if _, err := c.Delete(ctx, forumPeer, []int{5, 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, store.Peer{}, []int{5}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[channel 2001/77 [5 6] account [5] revoke=true]" {
		t.Errorf("calls %v", got)
	}
	read, err := c.ReadUpTo(ctx, []store.Peer{{Kind: store.KindUser, ID: 1001}, groupPeer, forumPeer})
	if err != nil {
		t.Fatal(err)
	}
	if read[1001] != 1 || read[-1001] != 2 || read[store.ChannelPeerID(2001)] != 3 {
		t.Errorf("read state %v", read)
	}
}

// The errors met in chats are permanent, each with its own words; slow mode
// is not a flood wait.
func TestClassifyChatErrors(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range []string{"CHAT_WRITE_FORBIDDEN", "CHAT_ADMIN_REQUIRED", "USER_BANNED_IN_CHANNEL", "CHANNEL_PRIVATE",
		"CHAT_RESTRICTED", "TOPIC_CLOSED", "TOPIC_DELETED", "CHAT_SEND_PLAIN_FORBIDDEN", "CHAT_SEND_MEDIA_FORBIDDEN"} {
		err := classify(tgerr.New(403, typ))
		var rpc *RPCError
		if !errors.As(err, &rpc) || rpc.Type != typ || rpc.Detail == "" || fanout.IsTemporary(err) || fanout.IsFatal(err) {
			t.Errorf("%s: %#v", typ, err)
			continue
		}
		if seen[rpc.Detail] {
			t.Errorf("%s shares its words %q", typ, rpc.Detail)
		}
		seen[rpc.Detail] = true
	}
	var fw *fanout.FloodWaitError
	if err := classify(tgerr.New(420, "SLOWMODE_WAIT_10")); errors.As(err, &fw) {
		t.Errorf("SLOWMODE_WAIT is a flood wait: %v", err)
	}
}
