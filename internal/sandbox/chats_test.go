package sandbox

// chats_test.go: groups, supergroups, channels and forum topics (chats.go):
// where sends land, the chats' rules, dialogs, migration, and deletes and
// edits with a channel's own ids.

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// resolveChannel resolves a public chat's username to its InputPeerChannel.
func resolveChannel(ctx context.Context, api *tg.Client, name string) (*tg.InputPeerChannel, *tg.Channel, error) {
	r, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: name})
	if err != nil {
		return nil, nil, err
	}
	p, ok := r.Peer.(*tg.PeerChannel)
	if !ok || len(r.Chats) != 1 {
		return nil, nil, fmt.Errorf("resolve %s: %+v", name, r)
	}
	ch := r.Chats[0].(*tg.Channel)
	if ch.ID != p.ChannelID {
		return nil, nil, fmt.Errorf("resolve %s: peer %d, chat %d", name, p.ChannelID, ch.ID)
	}
	return &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}, ch, nil
}

// sendText sends text to peer (a topic with reply_to) and returns the id.
func sendText(ctx context.Context, api *tg.Client, p tg.InputPeerClass, reply tg.InputReplyToClass, text string, randomID int64) (int, error) {
	res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: p, Message: text, RandomID: randomID, ReplyTo: reply})
	if err != nil {
		return 0, err
	}
	u, ok := res.(*tg.Updates)
	if !ok {
		return 0, fmt.Errorf("answer %T, want Updates for a chat", res)
	}
	for _, upd := range u.Updates {
		if v, ok := upd.(*tg.UpdateMessageID); ok && v.RandomID == randomID {
			return v.ID, nil
		}
	}
	return 0, fmt.Errorf("no updateMessageID in %+v", u)
}

func topic(id int) tg.InputReplyToClass { return &tg.InputReplyToMessage{ReplyToMsgID: id} }

func TestChatSendsLandInTheirPlace(t *testing.T) {
	s := start(t, Options{Users: 3})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		forum, ch, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		if !ch.Megagroup || !ch.Forum || ch.Broadcast {
			return fmt.Errorf("forum flags %+v", ch)
		}
		news, _, err := resolveChannel(ctx, api, "Sandbox_News")
		if err != nil {
			return err
		}
		// The forum's own ids: the topics took 1 to 4.
		id, err := sendText(ctx, api, forum, topic(2), "to announcements", 1)
		if err != nil || id != 5 {
			return fmt.Errorf("topic send: id %d, %v", id, err)
		}
		if id, err = sendText(ctx, api, forum, nil, "to general", 2); err != nil || id != 6 {
			return fmt.Errorf("general send: id %d, %v", id, err)
		}
		// The same random_id again: the original message, no new one.
		if again, err := sendText(ctx, api, forum, topic(2), "to announcements", 1); err != nil || again != 5 {
			return fmt.Errorf("repeat: id %d, %v", again, err)
		}
		// Another channel counts from its own start; basic group 1001 is
		// not user 1001, and its id is the sender's.
		if id, err = sendText(ctx, api, news, nil, "news", 3); err != nil || id != 1 {
			return fmt.Errorf("channel send: id %d, %v", id, err)
		}
		if id, err = sendText(ctx, api, &tg.InputPeerChat{ChatID: 1001}, nil, "family", 4); err != nil || id != 1 {
			return fmt.Errorf("group send: id %d, %v", id, err)
		}
		for _, tc := range []struct {
			peer  tg.InputPeerClass
			reply tg.InputReplyToClass
			want  string
		}{
			{forum, topic(3), "TOPIC_CLOSED"},
			{forum, topic(4), "TOPIC_DELETED"},
			{forum, topic(99), "REPLY_TO_INVALID"},
			{&tg.InputPeerChat{ChatID: 1002}, nil, "PEER_ID_INVALID"}, // migrated
			{&tg.InputPeerChannel{ChannelID: forum.ChannelID, AccessHash: 1}, nil, "CHANNEL_INVALID"},
		} {
			if _, err := sendText(ctx, api, tc.peer, tc.reply, "x", 99); !tgerr.Is(err, tc.want) {
				return fmt.Errorf("send to %v %v: %v, want %s", tc.peer, tc.reply, err, tc.want)
			}
		}
		blog, _, err := resolveChannel(ctx, api, "sandbox_blog")
		if err != nil {
			return err
		}
		if _, err := sendText(ctx, api, blog, nil, "x", 98); !tgerr.Is(err, "CHAT_ADMIN_REQUIRED") {
			return fmt.Errorf("post without rights: %v", err)
		}
		return nil
	})
	in := s.ChatInbox("@sandbox_forum")
	if len(in) != 2 || in[0].Topic != 2 || in[0].Text != "to announcements" || in[1].Topic != 0 || in[0].Chat != ChatSupergroup || in[0].ToID != -1000000002001 {
		t.Errorf("forum inbox %+v", in)
	}
	if in := s.ChatInbox("Family"); len(in) != 1 || in[0].ToID != -1001 || in[0].Chat != ChatGroup {
		t.Errorf("family inbox %+v", in)
	}
	if in := s.Inbox("friend1"); len(in) != 0 {
		t.Errorf("friend1 got the group's message: %+v", in)
	}
	if in := s.ChatInbox("@sandbox_blog"); len(in) != 0 {
		t.Errorf("the read-only channel got %+v", in)
	}
}

func TestSlowModeAndMediaBan(t *testing.T) {
	s := start(t, Options{Users: 1, SlowMode: 2 * time.Second})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		lounge, ch, err := resolveChannel(ctx, api, "sandbox_lounge")
		if err != nil {
			return err
		}
		if !ch.SlowmodeEnabled || !ch.DefaultBannedRights.SendMedia {
			return fmt.Errorf("lounge %+v", ch)
		}
		if _, err := sendText(ctx, api, lounge, nil, "one", 1); err != nil {
			return err
		}
		_, err = sendText(ctx, api, lounge, nil, "two", 2)
		if e, ok := tgerr.As(err); !ok || e.Type != "SLOWMODE_WAIT" || e.Argument != 2 || e.Code != 420 {
			return fmt.Errorf("second message: %v, want SLOWMODE_WAIT_2", err)
		}
		// Slow mode is the lounge's: the forum takes messages at once.
		forum, _, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		if _, err := sendText(ctx, api, forum, nil, "elsewhere", 3); err != nil {
			return err
		}
		// A repeat of the first is not a new message: no slow mode.
		if _, err := sendText(ctx, api, lounge, nil, "one", 1); err != nil {
			return fmt.Errorf("repeat in slow mode: %v", err)
		}
		time.Sleep(2 * time.Second)
		if _, err := sendText(ctx, api, lounge, nil, "two", 2); err != nil {
			return fmt.Errorf("after the interval: %v", err)
		}
		f, err := api.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{}, Media: &tg.InputMediaUploadedDocument{
			File: uploadPart(ctx, t, api), MimeType: "text/plain",
		}})
		if err != nil {
			return err
		}
		doc := f.(*tg.MessageMediaDocument).Document.(*tg.Document)
		_, err = api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{Peer: lounge, RandomID: 4,
			Media: &tg.InputMediaDocument{ID: &tg.InputDocument{ID: doc.ID, AccessHash: doc.AccessHash}}})
		if !tgerr.Is(err, "CHAT_SEND_MEDIA_FORBIDDEN") {
			return fmt.Errorf("media in the lounge: %v", err)
		}
		return nil
	})
}

// uploadPart uploads one small file part and returns it as an InputFile.
func uploadPart(ctx context.Context, t *testing.T, api *tg.Client) tg.InputFileClass {
	t.Helper()
	if _, err := api.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 77, FilePart: 0, Bytes: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	return &tg.InputFile{ID: 77, Parts: 1, Name: "a.txt"}
}

func TestDialogsChatsAndMigration(t *testing.T) {
	s := start(t, Options{Users: 2})
	c := userClient(t, s, "+15550000000")
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		res, err := api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 100})
		if err != nil {
			return err
		}
		d, ok := res.(*tg.MessagesDialogs)
		if !ok || len(d.Dialogs) != 7 || len(d.Chats) != 7 {
			return fmt.Errorf("dialogs %T with %d dialogs and %d chats, want all 7 chats", res, len(d.Dialogs), len(d.Chats))
		}
		// Two a page: every chat once, in messages.dialogsSlice pages.
		seen := map[string]bool{}
		var offset tg.InputPeerClass = &tg.InputPeerEmpty{}
		for page := 0; page < 10; page++ {
			res, err := api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: offset, Limit: 2})
			if err != nil {
				return err
			}
			sl, ok := res.(*tg.MessagesDialogsSlice)
			if !ok || sl.Count != 7 {
				return fmt.Errorf("page %d: %T %+v", page, res, res)
			}
			if len(sl.Dialogs) == 0 {
				break
			}
			for _, dl := range sl.Dialogs {
				p := dl.(*tg.Dialog).Peer
				if seen[p.String()] {
					return fmt.Errorf("%v twice", p)
				}
				seen[p.String()] = true
				switch v := p.(type) {
				case *tg.PeerChannel:
					for _, cl := range sl.Chats {
						if ch, ok := cl.(*tg.Channel); ok && ch.ID == v.ChannelID {
							offset = &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}
						}
					}
				case *tg.PeerChat:
					offset = &tg.InputPeerChat{ChatID: v.ChatID}
				}
			}
		}
		if len(seen) != 7 {
			return fmt.Errorf("paged through %d chats, want 7", len(seen))
		}
		chats, err := api.MessagesGetChats(ctx, []int64{1002})
		if err != nil {
			return err
		}
		old := chats.GetChats()[0].(*tg.Chat)
		to, ok := old.MigratedTo.(*tg.InputChannel)
		if !old.Deactivated || !ok || to.ChannelID != 2004 {
			return fmt.Errorf("migrated group %+v", old)
		}
		got, err := api.ChannelsGetChannels(ctx, []tg.InputChannelClass{to})
		if err != nil {
			return err
		}
		if club := got.GetChats()[0].(*tg.Channel); club.Title != "Book Club" || club.Username != "" || !club.Megagroup {
			return fmt.Errorf("the supergroup %+v", club)
		}
		if _, err := api.MessagesGetChats(ctx, []int64{2004}); !tgerr.Is(err, "CHAT_ID_INVALID") {
			return fmt.Errorf("getChats of a channel id: %v", err)
		}
		forum, _, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		topics, err := api.MessagesGetForumTopics(ctx, &tg.MessagesGetForumTopicsRequest{Peer: forum, Limit: 2})
		if err != nil {
			return err
		}
		if topics.Count != 3 || len(topics.Topics) != 2 || topics.Topics[0].GetID() != 3 || !topics.Topics[0].(*tg.ForumTopic).Closed {
			return fmt.Errorf("topics %+v", topics)
		}
		rest, err := api.MessagesGetForumTopics(ctx, &tg.MessagesGetForumTopicsRequest{Peer: forum, Limit: 2, OffsetTopic: 2})
		if err != nil || len(rest.Topics) != 1 || rest.Topics[0].GetID() != generalTopic {
			return fmt.Errorf("second page %+v, %v", rest, err)
		}
		return nil
	})
	bot := loggedIn(t, s)
	run(t, bot, func(ctx context.Context, api *tg.Client) error {
		_, err := api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 10})
		if !tgerr.Is(err, "BOT_METHOD_INVALID") {
			return fmt.Errorf("a bot's getDialogs: %v", err)
		}
		return nil
	})
}

// Retract and edit in chats: a channel's ids go to channels.deleteMessages
// with the channel; the account's ids (a basic group's too) to
// messages.deleteMessages; an edit names the chat and the message.
func TestChatDeleteAndEdit(t *testing.T) {
	s := start(t, Options{Users: 1})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		forum, _, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		news, _, err := resolveChannel(ctx, api, "sandbox_news")
		if err != nil {
			return err
		}
		group := &tg.InputPeerChat{ChatID: 1001}
		f1, err := sendText(ctx, api, forum, topic(2), "forum", 1)
		if err != nil {
			return err
		}
		n1, err := sendText(ctx, api, news, nil, "news", 2)
		if err != nil {
			return err
		}
		g1, err := sendText(ctx, api, group, nil, "group", 3)
		if err != nil {
			return err
		}
		// The news channel's message 1 is not the account's message 1
		// (the group's): messages.deleteMessages takes the latter only.
		if n, err := deleteIDs(ctx, api, true, g1); err != nil || n != 1 {
			return fmt.Errorf("delete the group's: %d, %v", n, err)
		}
		if len(s.ChatInbox("@sandbox_news")) != 1 {
			return fmt.Errorf("messages.deleteMessages deleted a channel's message")
		}
		res, err := api.ChannelsDeleteMessages(ctx, &tg.ChannelsDeleteMessagesRequest{
			Channel: &tg.InputChannel{ChannelID: news.ChannelID, AccessHash: news.AccessHash}, ID: []int{n1, 77}})
		if err != nil || res.PtsCount != 1 {
			return fmt.Errorf("channels.deleteMessages: %+v, %v", res, err)
		}
		req := &tg.MessagesEditMessageRequest{Peer: forum, ID: f1}
		req.SetMessage("forum, edited")
		upd, err := api.MessagesEditMessage(ctx, req)
		if err != nil {
			return err
		}
		u := upd.(*tg.Updates).Updates[0]
		if e, ok := u.(*tg.UpdateEditChannelMessage); !ok || e.Message.(*tg.Message).ReplyTo.(*tg.MessageReplyHeader).ReplyToMsgID != 2 {
			return fmt.Errorf("edit answer %+v", u)
		}
		bad := &tg.MessagesEditMessageRequest{Peer: news, ID: n1}
		bad.SetMessage("gone")
		if _, err := api.MessagesEditMessage(ctx, bad); !tgerr.Is(err, "MESSAGE_ID_INVALID") {
			return fmt.Errorf("edit a deleted channel message: %v", err)
		}
		return nil
	})
	if in := s.ChatInbox("@sandbox_forum"); len(in) != 1 || in[0].Text != "forum, edited" || in[0].Topic != 2 {
		t.Errorf("forum %+v", in)
	}
	if len(s.ChatInbox("@sandbox_news")) != 0 || len(s.ChatInbox("Family")) != 0 {
		t.Error("deleted messages are still there")
	}
}

// A persistent sandbox replays chat messages: the channel's ids go on
// from where they were, and a repeat is still the original.
func TestChatsSurviveRestart(t *testing.T) {
	opts := Options{Users: 1, StateDir: filepath.Join(t.TempDir(), "sb")}
	s := start(t, opts)
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		forum, _, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		_, err = sendText(ctx, api, forum, topic(2), "before", 1)
		return err
	})
	s2 := restart(t, s, opts)
	run(t, client(t, s2, storage), func(ctx context.Context, api *tg.Client) error {
		forum, _, err := resolveChannel(ctx, api, "sandbox_forum")
		if err != nil {
			return err
		}
		if id, err := sendText(ctx, api, forum, topic(2), "before", 1); err != nil || id != 5 {
			return fmt.Errorf("repeat after restart: %d, %v", id, err)
		}
		if id, err := sendText(ctx, api, forum, nil, "after", 2); err != nil || id != 6 {
			return fmt.Errorf("new after restart: %d, %v", id, err)
		}
		return nil
	})
	if in := s2.ChatInbox("sandbox_forum"); len(in) != 2 || in[0].Topic != 2 {
		t.Errorf("forum after restart %+v", in)
	}
}
