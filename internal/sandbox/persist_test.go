package sandbox

// persist_test.go: a persistent sandbox (persist.go, restore.go) across
// restarts: logins, accounts, the saved address, inbox replay.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// syncBuffer is a log sink a client's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// loggingClient is client with gotd's warnings captured in logs.
func loggingClient(t *testing.T, s *Server, storage telegram.SessionStorage, logs *syncBuffer) *telegram.Client {
	t.Helper()
	opts := clientOptions(t, s, storage)
	opts.Logger = logslog.New(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return telegram.NewClient(telegram.TestAppID, telegram.TestAppHash, opts)
}

func restart(t *testing.T, s *Server, opts Options) *Server {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return start(t, opts)
}

// A login made against a persistent sandbox survives its restart: same
// address, same RSA key, same account, and the client's saved auth key is
// still logged in, with no key regeneration on the client's side.
func TestPersistentRestartKeepsLogin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	opts := Options{Users: 3, StateDir: dir}
	s := start(t, opts)
	storage := &session.StorageMemory{}
	var logs syncBuffer
	var me *tg.User
	var firstID int
	run(t, loggingClient(t, s, storage, &logs), func(ctx context.Context, api *tg.Client) error {
		c := &codeAuth{phone: "+15550000000"}
		a, err := api.AuthSendCode(ctx, &tg.AuthSendCodeRequest{PhoneNumber: c.phone, APIID: telegram.TestAppID, APIHash: telegram.TestAppHash, Settings: tg.CodeSettings{}})
		if err != nil {
			return err
		}
		r, err := api.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: c.phone, PhoneCodeHash: a.(*tg.AuthSentCode).PhoneCodeHash, PhoneCode: LoginCode})
		if err != nil {
			return err
		}
		me = r.(*tg.AuthAuthorization).User.(*tg.User)
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "before", RandomID: 77})
		if err != nil {
			return err
		}
		firstID = res.(*tg.UpdateShortSentMessage).ID
		return nil
	})
	addr, key := s.Addr(), string(s.PublicKeyPEM())

	for _, f := range []string{KeyFile, StateFile, InboxFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}

	s = restart(t, s, opts)
	if s.Addr() != addr || string(s.PublicKeyPEM()) != key || !s.Resumed() {
		t.Fatalf("after restart: addr %s (was %s), same key %v, resumed %v", s.Addr(), addr, string(s.PublicKeyPEM()) == key, s.Resumed())
	}
	// The same session (same auth key) is still logged in as the same user.
	run(t, loggingClient(t, s, storage, &logs), func(ctx context.Context, api *tg.Client) error {
		users, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if err != nil {
			return fmt.Errorf("authorized call after restart: %w", err)
		}
		if u := users[0].(*tg.User); u.ID != me.ID || u.Phone != "15550000000" || !u.Self {
			return fmt.Errorf("self after restart = %+v, want id %d", u, me.ID)
		}
		// The random_id dedupe and message ids survive too.
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "before", RandomID: 77})
		if err != nil {
			return err
		}
		if id := res.(*tg.UpdateShortSentMessage).ID; id != firstID {
			return fmt.Errorf("repeated random_id after restart: id %d, want the original %d", id, firstID)
		}
		res, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "after", RandomID: 78})
		if err != nil {
			return err
		}
		if id := res.(*tg.UpdateShortSentMessage).ID; id != firstID+1 {
			return fmt.Errorf("new message after restart: id %d, want %d", id, firstID+1)
		}
		return nil
	})
	if in := s.Inbox("friend1"); len(in) != 2 || in[0].Text != "before" || in[1].Text != "after" {
		t.Errorf("friend1 inbox after restart = %+v", in)
	}
	if s.Delivered() != 1 {
		t.Errorf("delivered by the second run = %d, want 1", s.Delivered())
	}
	if strings.Contains(logs.String(), "Re-generating keys") {
		t.Errorf("client warnings:\n%s", logs.String())
	}

	// A logout is kept as well.
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		_, err := api.AuthLogOut(ctx)
		return err
	})
	s = restart(t, s, opts)
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		_, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			return fmt.Errorf("after logout and restart: %v", err)
		}
		return nil
	})
}

// A client that stays connected across the restart carries on with its
// session once the server is back.
func TestPersistentRestartLiveClient(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Users: 2, StateDir: dir}
	s := start(t, opts)
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	var logs syncBuffer
	c := loggingClient(t, s, storage, &logs)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		if _, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); err != nil {
			return err
		}
		s = restart(t, s, opts)
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			var users []tg.UserClass
			users, err = api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
			if err == nil {
				if u := users[0].(*tg.User); u.ID != 123456 || !u.Bot {
					return fmt.Errorf("self = %+v", u)
				}
				return nil
			}
			if tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return err
	})
	if strings.Contains(logs.String(), "Re-generating keys") {
		t.Errorf("the client regenerated its key:\n%s", logs.String())
	}
}

// The address a previous run kept is busy: a clear error, nothing replaced.
func TestPersistentSavedAddrBusy(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Options{Users: 1, StateDir: dir})
	state, _ := os.ReadFile(filepath.Join(dir, StateFile))
	_, err := Start(Options{Users: 1, StateDir: dir})
	if !errors.Is(err, ErrSavedAddr) || !strings.Contains(err.Error(), "listen on "+s.Addr()) {
		t.Fatalf("second sandbox on the same dir: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, StateFile)); !bytes.Equal(after, state) {
		t.Errorf("the failed start rewrote the state:\n%s\nwas\n%s", after, state)
	}
	// An explicit address moves the sandbox, and is kept from then on.
	s = restart(t, s, Options{Users: 1, StateDir: dir, Addr: "127.0.0.1:0"})
	if !s.Resumed() {
		t.Error("not resumed")
	}
}

// A bot's token and a phone account created by a login come back after a
// restart, and a second wrong token is still refused.
func TestPersistentAccounts(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Users: 1, StateDir: dir, Password: "pw"}
	s := start(t, opts)
	botLogin(t, s, &session.StorageMemory{})
	c := client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		return auth.NewFlow(codeAuth{phone: "+15551234567", password: "pw"}, auth.SendCodeOptions{}).Run(ctx, c.Auth())
	})
	phone, ok := s.Lookup("+15551234567")
	if !ok {
		t.Fatal("no phone account")
	}
	s = restart(t, s, opts)
	if u, ok := s.Lookup("+15551234567"); !ok || u != phone {
		t.Errorf("phone account after restart = %+v, %v; want %+v", u, ok, phone)
	}
	if u, ok := s.Lookup("id:123456"); !ok || !u.Bot {
		t.Errorf("bot after restart = %+v, %v", u, ok)
	}
	run(t, client(t, s, nil), func(ctx context.Context, api *tg.Client) error {
		_, err := api.AuthImportBotAuthorization(ctx, &tg.AuthImportBotAuthorizationRequest{
			APIID: telegram.TestAppID, APIHash: telegram.TestAppHash, BotAuthToken: "123456:someOtherSecret"})
		if !tgerr.Is(err, "ACCESS_TOKEN_EXPIRED") {
			return fmt.Errorf("another secret for the same bot: %v", err)
		}
		return nil
	})
}

// Inboxes come back from inbox.jsonl: a document sent before the restart can
// be sent again by reference, an album's repeat is recognised, and a line a
// crash cut short costs only that line.
func TestPersistentInboxReplay(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Users: 3, StateDir: dir}
	s := start(t, opts)
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	var doc *tg.Document
	album := func(ctx context.Context, api *tg.Client, u *tg.User) (tg.UpdatesClass, error) {
		in := &tg.InputMediaDocument{ID: &tg.InputDocument{ID: doc.ID, AccessHash: doc.AccessHash, FileReference: doc.FileReference}}
		return api.MessagesSendMultiMedia(ctx, &tg.MessagesSendMultiMediaRequest{Peer: peer(u), MultiMedia: []tg.InputSingleMedia{
			{Media: in, RandomID: 501, Message: "a"}, {Media: in, RandomID: 502, Message: "b"},
		}})
	}
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		if _, err := api.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 1, FilePart: 0, Bytes: []byte("car")}); err != nil {
			return err
		}
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		res, err := api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{Peer: peer(u), RandomID: 500, Message: "car.pdf",
			Media: &tg.InputMediaUploadedDocument{File: &tg.InputFile{ID: 1, Parts: 1, Name: "car.pdf"}, MimeType: "application/pdf"}})
		if err != nil {
			return err
		}
		for _, upd := range res.(*tg.Updates).Updates {
			if m, ok := upd.(*tg.UpdateNewMessage); ok {
				doc = m.Message.(*tg.Message).Media.(*tg.MessageMediaDocument).Document.(*tg.Document)
			}
		}
		_, err = album(ctx, api, u)
		return err
	})
	s.Close()
	f, err := os.OpenFile(filepath.Join(dir, InboxFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":99,"from_id":`) // a crash mid-line
	f.Close()

	s = start(t, opts)
	if got := len(s.Inbox("friend1")); got != 3 {
		t.Fatalf("friend1 has %d messages after restart, want 3", got)
	}
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend2")
		if err != nil {
			return err
		}
		// By reference, uploaded in the previous run.
		if _, err := api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{Peer: peer(u), RandomID: 600, Message: "again",
			Media: &tg.InputMediaDocument{ID: &tg.InputDocument{ID: doc.ID, AccessHash: doc.AccessHash, FileReference: doc.FileReference}}}); err != nil {
			return fmt.Errorf("send by reference after restart: %w", err)
		}
		// The album again: its original ids, no new messages.
		u1, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		res, err := album(ctx, api, u1)
		if err != nil {
			return err
		}
		var ids []int
		for _, upd := range res.(*tg.Updates).Updates {
			if m, ok := upd.(*tg.UpdateMessageID); ok {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
			return fmt.Errorf("album repeat ids %v, want [2 3]", ids)
		}
		return nil
	})
	if len(s.Inbox("friend1")) != 3 || len(s.Inbox("friend2")) != 1 || s.Delivered() != 1 {
		t.Errorf("after restart: friend1 %d, friend2 %d, delivered %d; want 3, 1, 1", len(s.Inbox("friend1")), len(s.Inbox("friend2")), s.Delivered())
	}
	// The message after the cut line starts a line of its own.
	s = restart(t, s, opts)
	if in := s.Inbox("friend2"); len(in) != 1 || in[0].Text != "again" || in[0].Media == nil {
		t.Errorf("friend2 after a second restart: %+v", in)
	}
}

// Deletions and edits are in inbox.jsonl as event lines, and a restart
// replays them: the same inboxes, deleted ids neither back nor reused.
func TestPersistentDeletesAndEdits(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Users: 1, StateDir: dir}
	s := start(t, opts)
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		for i, text := range []string{"a", "b", "c"} {
			if _, err := sendTo(ctx, api, f1, text, int64(i+1)); err != nil {
				return err
			}
		}
		if _, err := editText(ctx, api, f1, 2, "b2"); err != nil {
			return err
		}
		if _, err := deleteIDs(ctx, api, true, 1); err != nil {
			return err
		}
		_, err := deleteIDs(ctx, api, false, 3)
		return err
	})
	b, _ := os.ReadFile(filepath.Join(dir, InboxFile))
	for _, want := range []string{
		`{"event":"deleted","id":1,"from_id":123456,"to_id":1001,"to":"friend1","date":"`,
		`{"event":"deleted_for_sender","id":3,"from_id":123456,"to_id":1001,"to":"friend1","date":"`,
		`{"event":"edited","id":2,"from_id":123456,"to_id":1001,"to":"friend1","text":"b2",`,
		`"edit_date":"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("inbox.jsonl lacks %s:\n%s", want, b)
		}
	}
	if n := strings.Count(string(b), "\n"); n != 6 {
		t.Errorf("inbox.jsonl has %d lines, want 3 deliveries and 3 events:\n%s", n, b)
	}

	check := func(s *Server, wantB string) {
		t.Helper()
		in := s.Inbox("friend1")
		if len(in) != 2 || in[0].ID != 2 || in[0].Text != wantB || in[0].EditDate == nil || in[1].ID != 3 || in[1].Text != "c" {
			t.Errorf("friend1 inbox after restart: %+v", in)
		}
	}
	s = restart(t, s, opts)
	check(s, "b2")
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		for _, id := range []int{1, 3} {
			if _, err := editText(ctx, api, f1, id, "back"); !tgerr.Is(err, "MESSAGE_ID_INVALID") {
				return fmt.Errorf("edit deleted %d after restart: %v", id, err)
			}
		}
		if n, err := deleteIDs(ctx, api, true, 1, 3); err != nil || n != 0 {
			return fmt.Errorf("delete deleted ones after restart: %d, %v", n, err)
		}
		if _, err := editText(ctx, api, f1, 2, "b3"); err != nil {
			return err
		}
		id, err := sendTo(ctx, api, f1, "d", 4)
		if err != nil {
			return err
		}
		if id != 4 {
			return fmt.Errorf("new message after restart got id %d, want 4", id)
		}
		// The last id deleted: still not reused after another restart.
		_, err = deleteIDs(ctx, api, true, 4)
		return err
	})
	if s.Delivered() != 1 {
		t.Errorf("delivered by the second run = %d, want 1", s.Delivered())
	}
	s = restart(t, s, opts)
	check(s, "b3")
	run(t, client(t, s, storage), func(ctx context.Context, api *tg.Client) error {
		f1, _ := resolve(ctx, api, "friend1")
		id, err := sendTo(ctx, api, f1, "e", 5)
		if err == nil && id != 5 {
			err = fmt.Errorf("new message after a deleted last one got id %d, want 5", id)
		}
		return err
	})
}
