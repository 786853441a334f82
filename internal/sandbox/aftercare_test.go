package sandbox

// aftercare_test.go: deleting and editing sent messages (aftercare.go), the
// limits help.getConfig announces for them (help.go), and the dialogs that
// say what was read (dialogs.go).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// userClient returns a client logged in as the phone account phone.
func userClient(t *testing.T, s *Server, phone string) *telegram.Client {
	t.Helper()
	storage := &session.StorageMemory{}
	c := client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		return auth.NewFlow(codeAuth{phone: phone}, auth.SendCodeOptions{}).Run(ctx, c.Auth())
	})
	return client(t, s, storage)
}

// sendTo sends text to a friend and returns the message id.
func sendTo(ctx context.Context, api *tg.Client, u *tg.User, text string, randomID int64) (int, error) {
	res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: text, RandomID: randomID})
	if err != nil {
		return 0, fmt.Errorf("send %q: %w", text, err)
	}
	return res.(*tg.UpdateShortSentMessage).ID, nil
}

func deleteIDs(ctx context.Context, api *tg.Client, revoke bool, ids ...int) (int, error) {
	res, err := api.MessagesDeleteMessages(ctx, &tg.MessagesDeleteMessagesRequest{Revoke: revoke, ID: ids})
	if err != nil {
		return 0, err
	}
	return res.PtsCount, nil
}

func editText(ctx context.Context, api *tg.Client, u *tg.User, id int, text string) (tg.UpdatesClass, error) {
	req := &tg.MessagesEditMessageRequest{Peer: peer(u), ID: id}
	req.SetMessage(text) // sent even when empty
	return api.MessagesEditMessage(ctx, req)
}

func ids(in []Message) []int {
	var out []int
	for _, m := range in {
		out = append(out, m.ID)
	}
	return out
}

// Revoked messages leave their recipients' inboxes; ids that are unknown,
// already deleted, repeated or another account's are skipped and not
// counted.
func TestDeleteMessagesRevoke(t *testing.T) {
	s := start(t, Options{Users: 2})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		f2, _ := resolve(ctx, api, "friend2")
		a, err := sendTo(ctx, api, f1, "a", 1)
		if err != nil {
			return err
		}
		if _, err := sendTo(ctx, api, f1, "b", 2); err != nil {
			return err
		}
		c, err := sendTo(ctx, api, f2, "c", 3)
		if err != nil {
			return err
		}
		// One call spans recipients.
		if n, err := deleteIDs(ctx, api, true, a, c, 999, a); err != nil || n != 2 {
			return fmt.Errorf("delete a, c, 999, a: %d, %v; want 2", n, err)
		}
		if n, err := deleteIDs(ctx, api, true, a, c); err != nil || n != 0 {
			return fmt.Errorf("delete them again: %d, %v; want 0", n, err)
		}
		if n, err := deleteIDs(ctx, api, true); err != nil || n != 0 {
			return fmt.Errorf("delete nothing: %d, %v; want 0", n, err)
		}
		return nil
	})
	if got := ids(s.Inbox("friend1")); len(got) != 1 || got[0] != 2 {
		t.Errorf("friend1 has %v, want [2]", got)
	}
	if got := s.Inbox("friend2"); len(got) != 0 {
		t.Errorf("friend2 has %v, want nothing", got)
	}
	// Another account's ids are its own: its "2" is not the bot's message 2.
	run(t, userClient(t, s, "+15550000000"), func(ctx context.Context, api *tg.Client) error {
		if n, err := deleteIDs(ctx, api, true, 2); err != nil || n != 0 {
			return fmt.Errorf("another account deletes 2: %d, %v; want 0", n, err)
		}
		return nil
	})
	if got := ids(s.Inbox("friend1")); len(got) != 1 {
		t.Errorf("friend1 has %v after another account's delete", got)
	}
	if got := s.Calls("messages.deleteMessages"); got != 4 {
		t.Errorf("deleteMessages calls = %d, want 4", got)
	}
	if s.Deleted() != 2 || s.Delivered() != 3 {
		t.Errorf("deleted %d, delivered %d; want 2 and 3", s.Deleted(), s.Delivered())
	}
}

// Without revoke only the sender's copy goes: the recipient keeps the
// message, and the sender can no longer edit or revoke it.
func TestDeleteMessagesForSenderOnly(t *testing.T) {
	s := start(t, Options{Users: 1})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		a, err := sendTo(ctx, api, f1, "a", 1)
		if err != nil {
			return err
		}
		if n, err := deleteIDs(ctx, api, false, a); err != nil || n != 1 {
			return fmt.Errorf("delete for me: %d, %v; want 1", n, err)
		}
		if _, err := editText(ctx, api, f1, a, "a2"); !tgerr.Is(err, "MESSAGE_ID_INVALID") {
			return fmt.Errorf("edit after deleting it for me: %v", err)
		}
		if n, err := deleteIDs(ctx, api, true, a); err != nil || n != 0 {
			return fmt.Errorf("revoke after deleting it for me: %d, %v; want 0", n, err)
		}
		return nil
	})
	if in := s.Inbox("friend1"); len(in) != 1 || in[0].Text != "a" {
		t.Errorf("friend1 has %+v, want the message kept", in)
	}
}

// A revoke past the caller's revoke limit fails the whole call; deleting
// for oneself has no limit; more than 100 ids are refused.
func TestDeleteMessagesLimits(t *testing.T) {
	s := start(t, Options{Users: 1, RevokeLimit: time.Second})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		old, err := sendTo(ctx, api, f1, "old", 1)
		if err != nil {
			return err
		}
		time.Sleep(1100 * time.Millisecond)
		fresh, err := sendTo(ctx, api, f1, "fresh", 2)
		if err != nil {
			return err
		}
		if _, err := deleteIDs(ctx, api, true, fresh, old); !tgerr.Is(err, "MESSAGE_DELETE_FORBIDDEN") {
			return fmt.Errorf("revoke one past the limit: %v", err)
		}
		if n := len(s.Inbox("friend1")); n != 2 {
			return fmt.Errorf("the refused call deleted %d messages", 2-n)
		}
		if n, err := deleteIDs(ctx, api, true, fresh); err != nil || n != 1 {
			return fmt.Errorf("revoke the fresh one: %d, %v", n, err)
		}
		if n, err := deleteIDs(ctx, api, false, old); err != nil || n != 1 {
			return fmt.Errorf("delete the old one for me: %d, %v", n, err)
		}
		many := make([]int, 101)
		for i := range many {
			many[i] = i + 1
		}
		if _, err := deleteIDs(ctx, api, true, many...); !tgerr.Is(err, "LIMIT_INVALID") {
			return fmt.Errorf("101 ids: %v", err)
		}
		return nil
	})
	if in := s.Inbox("friend1"); len(in) != 1 || in[0].Text != "old" {
		t.Errorf("friend1 has %+v, want only the old message", in)
	}
}

func editedMessage(res tg.UpdatesClass) (*tg.Message, error) {
	u, ok := res.(*tg.Updates)
	if !ok {
		return nil, fmt.Errorf("answer %T, want *tg.Updates", res)
	}
	for _, upd := range u.Updates {
		if e, ok := upd.(*tg.UpdateEditMessage); ok {
			return e.Message.(*tg.Message), nil
		}
	}
	return nil, fmt.Errorf("no updateEditMessage in %v", u.Updates)
}

// An edit changes the text and entities in the recipient's inbox and answers
// updateEditMessage; the errors come in their cases.
func TestEditMessage(t *testing.T) {
	s := start(t, Options{Users: 2})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		f2, _ := resolve(ctx, api, "friend2")
		a, err := sendTo(ctx, api, f1, "I bought a car", 1)
		if err != nil {
			return err
		}
		bold := []tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 0, Length: 1}}
		res, err := api.MessagesEditMessage(ctx, &tg.MessagesEditMessageRequest{Peer: peer(f1), ID: a, Message: "I bought a bike", Entities: bold})
		if err != nil {
			return fmt.Errorf("edit: %w", err)
		}
		msg, err := editedMessage(res)
		if err != nil {
			return err
		}
		if msg.ID != a || msg.Message != "I bought a bike" || msg.EditDate == 0 || !msg.Out || len(msg.Entities) != 1 {
			return fmt.Errorf("edited message = %+v", msg)
		}
		for _, c := range []struct {
			name string
			call func() error
			want string
		}{
			{"the same again", func() error {
				_, err := api.MessagesEditMessage(ctx, &tg.MessagesEditMessageRequest{Peer: peer(f1), ID: a, Message: "I bought a bike", Entities: bold})
				return err
			}, "MESSAGE_NOT_MODIFIED"},
			{"empty", func() error { _, err := editText(ctx, api, f1, a, " "); return err }, "MESSAGE_EMPTY"},
			{"too long", func() error { _, err := editText(ctx, api, f1, a, strings.Repeat("x", 4097)); return err }, "MESSAGE_TOO_LONG"},
			{"unknown id", func() error { _, err := editText(ctx, api, f1, 999, "x"); return err }, "MESSAGE_ID_INVALID"},
			{"another peer", func() error { _, err := editText(ctx, api, f2, a, "x"); return err }, "MESSAGE_ID_INVALID"},
			{"bad access hash", func() error {
				bad := peer(f1)
				bad.AccessHash++
				_, err := api.MessagesEditMessage(ctx, &tg.MessagesEditMessageRequest{Peer: bad, ID: a, Message: "x"})
				return err
			}, "PEER_ID_INVALID"},
		} {
			if err := c.call(); !tgerr.Is(err, c.want) {
				return fmt.Errorf("%s: %v, want %s", c.name, err, c.want)
			}
		}
		in := s.Inbox("friend1")
		if len(in) != 1 || in[0].Text != "I bought a bike" || in[0].EditDate == nil || len(in[0].Entities) != 1 || in[0].Entities[0].Type != "bold" {
			return fmt.Errorf("friend1 inbox after the edit: %+v", in)
		}
		// Deleted: no longer editable.
		if _, err := deleteIDs(ctx, api, true, a); err != nil {
			return err
		}
		if _, err := editText(ctx, api, f1, a, "again"); !tgerr.Is(err, "MESSAGE_ID_INVALID") {
			return fmt.Errorf("edit a deleted message: %v", err)
		}
		return nil
	})
	if s.Calls("messages.editMessage") != 8 || s.Edited() != 1 {
		t.Errorf("editMessage calls %d, edits %d; want 8 and 1", s.Calls("messages.editMessage"), s.Edited())
	}
}

// A message with media has a caption: its own limit, and it may be empty.
func TestEditCaption(t *testing.T) {
	s := start(t, Options{Users: 1})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		if _, err := api.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 7, FilePart: 0, Bytes: []byte("car")}); err != nil {
			return err
		}
		f1, _ := resolve(ctx, api, "friend1")
		_, err := api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{Peer: peer(f1), RandomID: 1, Message: "car.pdf",
			Media: &tg.InputMediaUploadedDocument{File: &tg.InputFile{ID: 7, Parts: 1, Name: "car.pdf"}, MimeType: "application/pdf"}})
		if err != nil {
			return err
		}
		if _, err := editText(ctx, api, f1, 1, strings.Repeat("x", CaptionLengthMax+1)); !tgerr.Is(err, "MEDIA_CAPTION_TOO_LONG") {
			return fmt.Errorf("long caption: %v", err)
		}
		res, err := editText(ctx, api, f1, 1, "")
		if err != nil {
			return fmt.Errorf("empty caption: %w", err)
		}
		msg, err := editedMessage(res)
		if err != nil {
			return err
		}
		if _, ok := msg.Media.(*tg.MessageMediaDocument); !ok || msg.Message != "" {
			return fmt.Errorf("edited message %+v, want the document without caption", msg)
		}
		return nil
	})
	if in := s.Inbox("friend1"); len(in) != 1 || in[0].Text != "" || in[0].Media == nil || in[0].EditDate == nil {
		t.Errorf("friend1 inbox: %+v", in)
	}
}

// A message as old as the edit limit can no longer be edited.
func TestEditTimeLimit(t *testing.T) {
	s := start(t, Options{Users: 1, EditLimit: time.Second})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		old, err := sendTo(ctx, api, f1, "old", 1)
		if err != nil {
			return err
		}
		time.Sleep(1100 * time.Millisecond)
		fresh, err := sendTo(ctx, api, f1, "fresh", 2)
		if err != nil {
			return err
		}
		if _, err := editText(ctx, api, f1, old, "old2"); !tgerr.Is(err, "MESSAGE_EDIT_TIME_EXPIRED") {
			return fmt.Errorf("edit past the limit: %v", err)
		}
		if _, err := editText(ctx, api, f1, fresh, "fresh2"); err != nil {
			return fmt.Errorf("edit within the limit: %w", err)
		}
		return nil
	})
}

// help.getConfig announces each caller's limits: a user's, a bot's, a
// user's before any login, and Options' for everyone.
func TestConfigLimits(t *testing.T) {
	getLimits := func(c *telegram.Client) (edit, revoke int) {
		t.Helper()
		run(t, c, func(ctx context.Context, api *tg.Client) error {
			cfg, err := api.HelpGetConfig(ctx)
			if err != nil {
				return err
			}
			edit, revoke = cfg.EditTimeLimit, cfg.RevokePmTimeLimit
			return nil
		})
		return edit, revoke
	}
	s := start(t, Options{Users: 1})
	for _, c := range []struct {
		name               string
		client             *telegram.Client
		wantEdit, wantRevk int
	}{
		{"not logged in", client(t, s, nil), 172800, 2147483647},
		{"user", userClient(t, s, "+15550000000"), 172800, 2147483647},
		{"bot", loggedIn(t, s), 2147483647, 172800},
	} {
		if e, r := getLimits(c.client); e != c.wantEdit || r != c.wantRevk {
			t.Errorf("%s: edit %d, revoke %d; want %d and %d", c.name, e, r, c.wantEdit, c.wantRevk)
		}
	}
	s = start(t, Options{Users: 1, EditLimit: 90 * time.Second, RevokeLimit: 1500 * time.Millisecond})
	for name, c := range map[string]*telegram.Client{"user": userClient(t, s, "+15550000000"), "bot": loggedIn(t, s)} {
		if e, r := getLimits(c); e != 90 || r != 2 {
			t.Errorf("%s with limits set: edit %d, revoke %d; want 90 and 2", name, e, r)
		}
	}
}

func dialogsOf(res *tg.MessagesPeerDialogs) map[int64]*tg.Dialog {
	out := map[int64]*tg.Dialog{}
	for _, d := range res.Dialogs {
		dd := d.(*tg.Dialog)
		out[dd.Peer.(*tg.PeerUser).UserID] = dd
	}
	return out
}

func dialogPeers(us ...*tg.User) []tg.InputDialogPeerClass {
	var out []tg.InputDialogPeerClass
	for _, u := range us {
		out = append(out, &tg.InputDialogPeer{Peer: peer(u)})
	}
	return out
}

// Recipients read what they received ReadAfter ago, except those who never
// read and messages deleted before they were read.
func TestPeerDialogsReadState(t *testing.T) {
	s := start(t, Options{Users: 3, ReadAfter: 500 * time.Millisecond, NeverRead: []int{2}})
	run(t, userClient(t, s, "+15550000000"), func(ctx context.Context, api *tg.Client) error {
		var f [4]*tg.User
		for i := 1; i <= 3; i++ {
			f[i], _ = resolve(ctx, api, fmt.Sprintf("friend%d", i))
		}
		for i, to := range []*tg.User{f[1], f[2], f[3]} {
			if _, err := sendTo(ctx, api, to, "hi", int64(i+1)); err != nil {
				return err
			}
		}
		if _, err := deleteIDs(ctx, api, true, 3); err != nil { // friend3's, before it is read
			return err
		}
		time.Sleep(600 * time.Millisecond)
		if _, err := sendTo(ctx, api, f[1], "unread yet", 9); err != nil {
			return err
		}
		res, err := api.MessagesGetPeerDialogs(ctx, dialogPeers(f[1], f[2], f[3], f[1]))
		if err != nil {
			return err
		}
		if len(res.Dialogs) != 3 || len(res.Users) != 4 || len(res.Messages) != 2 {
			return fmt.Errorf("%d dialogs, %d users, %d messages; want 3, 4, 2", len(res.Dialogs), len(res.Users), len(res.Messages))
		}
		d := dialogsOf(res)
		for i, want := range map[int][2]int{1: {4, 1}, 2: {2, 0}, 3: {0, 0}} {
			got := d[f[i].ID]
			if got == nil || got.TopMessage != want[0] || got.ReadOutboxMaxID != want[1] {
				return fmt.Errorf("friend%d dialog %+v, want top %d read %d", i, got, want[0], want[1])
			}
		}
		for _, c := range []struct {
			peers []tg.InputDialogPeerClass
			want  string
		}{
			{nil, "INPUT_PEERS_EMPTY"},
			{make([]tg.InputDialogPeerClass, 101), "LIMIT_INVALID"},
			{[]tg.InputDialogPeerClass{&tg.InputDialogPeer{Peer: &tg.InputPeerUser{UserID: f[1].ID, AccessHash: 1}}}, "PEER_ID_INVALID"},
		} {
			for i := range c.peers {
				if c.peers[i] == nil {
					c.peers[i] = &tg.InputDialogPeer{Peer: peer(f[1])}
				}
			}
			if _, err := api.MessagesGetPeerDialogs(ctx, c.peers); !tgerr.Is(err, c.want) {
				return fmt.Errorf("%d peers: %v, want %s", len(c.peers), err, c.want)
			}
		}
		return nil
	})
	if got := s.Calls("messages.getPeerDialogs"); got != 4 {
		t.Errorf("getPeerDialogs calls = %d, want 4", got)
	}
}

// By default nobody reads, and bots cannot ask.
func TestPeerDialogsDefaultsAndBots(t *testing.T) {
	s := start(t, Options{Users: 1})
	run(t, userClient(t, s, "+15550000000"), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		if _, err := sendTo(ctx, api, f1, "hi", 1); err != nil {
			return err
		}
		res, err := api.MessagesGetPeerDialogs(ctx, dialogPeers(f1))
		if err != nil {
			return err
		}
		if d := dialogsOf(res)[f1.ID]; d == nil || d.TopMessage != 1 || d.ReadOutboxMaxID != 0 {
			return fmt.Errorf("dialog %+v, want top 1, nothing read", d)
		}
		return nil
	})
	run(t, loggedIn(t, s), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		if _, err := api.MessagesGetPeerDialogs(ctx, dialogPeers(f1)); !tgerr.Is(err, "BOT_METHOD_INVALID") {
			return fmt.Errorf("a bot: %v", err)
		}
		return nil
	})
}
