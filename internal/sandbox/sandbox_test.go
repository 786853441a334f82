package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// client builds a plain gotd client for s, the way any MTProto client
// reaches a custom server: address, DC id and the PEM public key.
func client(t *testing.T, s *Server, storage telegram.SessionStorage) *telegram.Client {
	t.Helper()
	return telegram.NewClient(telegram.TestAppID, telegram.TestAppHash, clientOptions(t, s, storage))
}

func clientOptions(t *testing.T, s *Server, storage telegram.SessionStorage) telegram.Options {
	t.Helper()
	keys, err := crypto.ParseRSAPublicKeys(s.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.Addr())
	var p int
	fmt.Sscan(port, &p)
	if storage == nil {
		storage = &session.StorageMemory{}
	}
	return telegram.Options{
		PublicKeys:     []telegram.PublicKey{{RSA: keys[0]}},
		DC:             s.DC(),
		DCList:         dcs.List{Options: []tg.DCOption{{ID: s.DC(), IPAddress: host, Port: p}}},
		SessionStorage: storage,
		NoUpdates:      true,
		RetryInterval:  50 * time.Millisecond,
		MaxRetries:     20,
	}
}

// run runs f inside a connected client, with a deadline.
func run(t *testing.T, c *telegram.Client, f func(ctx context.Context, api *tg.Client) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Run(ctx, func(ctx context.Context) error { return f(ctx, c.API()) }); err != nil {
		t.Fatal(err)
	}
}

func botLogin(t *testing.T, s *Server, storage telegram.SessionStorage) {
	t.Helper()
	c := client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := c.Auth().Bot(ctx, "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
		return err
	})
}

func TestBotLoginAndSessionSurvivesReconnect(t *testing.T) {
	s := start(t, Options{Users: 3})
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)

	// A second client that loads the saved session is logged in.
	c := client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		st, err := c.Auth().Status(ctx)
		if err != nil {
			return err
		}
		if !st.Authorized || !st.User.Bot || st.User.ID != 123456 {
			return fmt.Errorf("status = %+v", st)
		}
		return nil
	})

	// After logout the same key is unregistered.
	c = client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		if _, err := api.AuthLogOut(ctx); err != nil {
			return err
		}
		_, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			return fmt.Errorf("after logout: %v", err)
		}
		return nil
	})
}

func TestBadBotToken(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := c.Auth().Bot(ctx, "not-a-token")
		if !tgerr.Is(err, "ACCESS_TOKEN_INVALID") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

func TestUnknownSessionIsUnregistered(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if !auth.IsUnauthorized(err) || !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			return fmt.Errorf("got %v", err)
		}
		// Methods the sandbox does not implement answer at once.
		_, err = api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}})
		if !tgerr.Is(err, "INPUT_METHOD_INVALID") {
			return fmt.Errorf("unimplemented method: %v", err)
		}
		return nil
	})
}

type codeAuth struct {
	phone, password string
}

func (a codeAuth) Phone(context.Context) (string, error)    { return a.phone, nil }
func (a codeAuth) Password(context.Context) (string, error) { return a.password, nil }
func (a codeAuth) Code(context.Context, *tg.AuthSentCode) (string, error) {
	return LoginCode, nil
}
func (a codeAuth) AcceptTermsOfService(context.Context, tg.HelpTermsOfService) error { return nil }
func (a codeAuth) SignUp(context.Context) (auth.UserInfo, error) {
	return auth.UserInfo{}, errors.New("no sign up")
}

func TestPhoneLoginWith2FA(t *testing.T) {
	s := start(t, Options{Password: "hunter2"})
	storage := &session.StorageMemory{}
	c := client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		// A wrong password is refused…
		err := auth.NewFlow(codeAuth{phone: "+15550000000", password: "wrong"}, auth.SendCodeOptions{}).Run(ctx, c.Auth())
		if !errors.Is(err, auth.ErrPasswordInvalid) {
			return fmt.Errorf("wrong password: %v", err)
		}
		// …the right one logs in.
		if err := auth.NewFlow(codeAuth{phone: "+15550000000", password: "hunter2"}, auth.SendCodeOptions{}).Run(ctx, c.Auth()); err != nil {
			return err
		}
		st, err := c.Auth().Status(ctx)
		if err != nil {
			return err
		}
		if !st.Authorized || st.User.Phone != "15550000000" {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}

func TestWrongCode(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		sent, err := c.Auth().SendCode(ctx, "+15550000000", auth.SendCodeOptions{})
		if err != nil {
			return err
		}
		_, err = c.Auth().SignIn(ctx, "+15550000000", "11111", sent.(*tg.AuthSentCode).PhoneCodeHash)
		if !tgerr.Is(err, "PHONE_CODE_INVALID") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

// loggedIn returns a client whose session is a logged-in bot.
func loggedIn(t *testing.T, s *Server) *telegram.Client {
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	return client(t, s, storage)
}

func resolve(ctx context.Context, api *tg.Client, name string) (*tg.User, error) {
	r, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: name})
	if err != nil {
		return nil, err
	}
	return r.Users[0].(*tg.User), nil
}

func peer(u *tg.User) *tg.InputPeerUser {
	return &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
}

func TestResolveAndErrors(t *testing.T) {
	s := start(t, Options{Users: 3})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "Friend2")
		if err != nil {
			return err
		}
		if u.ID != 1002 || u.Username != "friend2" || u.FirstName != "Bob" {
			return fmt.Errorf("friend2 = %+v", u)
		}
		for name, want := range map[string]string{"nobody_here": "USERNAME_NOT_OCCUPIED", "a!": "USERNAME_INVALID"} {
			if _, err := resolve(ctx, api, name); !tgerr.Is(err, want) {
				return fmt.Errorf("resolve %s: %v, want %s", name, err, want)
			}
		}
		r, err := api.ContactsResolvePhone(ctx, "15550000003")
		if err != nil {
			return err
		}
		if r.Users[0].(*tg.User).Username != "friend3" {
			return fmt.Errorf("phone resolved to %v", r.Users[0])
		}
		if _, err := api.ContactsResolvePhone(ctx, "19999999999"); !tgerr.Is(err, "PHONE_NOT_OCCUPIED") {
			return fmt.Errorf("unknown phone: %v", err)
		}
		bad := peer(u)
		bad.AccessHash++
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: bad, Message: "hi", RandomID: 1})
		if !tgerr.Is(err, "PEER_ID_INVALID") {
			return fmt.Errorf("bad access hash: %v", err)
		}
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "  ", RandomID: 2})
		if !tgerr.Is(err, "MESSAGE_EMPTY") {
			return fmt.Errorf("empty: %v", err)
		}
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: strings.Repeat("😀", 2049), RandomID: 3})
		if !tgerr.Is(err, "MESSAGE_TOO_LONG") {
			return fmt.Errorf("4098 UTF-16 units: %v", err)
		}
		return nil
	})
	if got := s.Calls("contacts.resolveUsername"); got != 3 {
		t.Errorf("resolveUsername calls = %d, want 3", got)
	}
	if n := len(s.Inbox("friend2")); n != 0 {
		t.Errorf("friend2 got %d messages from failed sends", n)
	}
}

func TestBlockedUser(t *testing.T) {
	s := start(t, Options{Users: 3, Blocked: []int{2}})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend2")
		if err != nil {
			return err
		}
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: 9})
		if !tgerr.Is(err, "USER_IS_BLOCKED") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

func TestConcurrentSendsAndRandomIDDedupe(t *testing.T) {
	const n = 50
	s := start(t, Options{Users: n})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
				if err != nil {
					errs <- err
					return
				}
				req := &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "I bought a car!", RandomID: int64(7000 + i)}
				first, err := api.MessagesSendMessage(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				// The same random_id again: the original message, not a new one.
				again, err := api.MessagesSendMessage(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				a, b := first.(*tg.UpdateShortSentMessage), again.(*tg.UpdateShortSentMessage)
				if a.ID != b.ID {
					errs <- fmt.Errorf("friend%d: repeat got id %d, first %d", i, b.ID, a.ID)
				}
			}()
		}
		wg.Wait()
		close(errs)
		return errors.Join(drain(errs)...)
	})
	for i := 1; i <= n; i++ {
		in := s.Inbox(fmt.Sprintf("friend%d", i))
		if len(in) != 1 || in[0].Text != "I bought a car!" || in[0].RandomID != int64(7000+i) {
			t.Fatalf("friend%d inbox = %+v", i, in)
		}
	}
}

func drain(ch chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}

func TestFloodWait(t *testing.T) {
	s := start(t, Options{Users: 5, SendRate: 2})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		var flood error
		for i := 1; i <= 5 && flood == nil; i++ {
			_, flood = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "x", RandomID: int64(i)})
		}
		d, ok := tgerr.AsFloodWait(flood)
		if !ok || d != time.Second {
			return fmt.Errorf("want FLOOD_WAIT_1 within 5 sends at 2/s, got %v", flood)
		}
		return nil
	})
	if s.FloodWaits() != 1 || len(s.Inbox("friend1")) != 2 {
		t.Errorf("flood waits %d, delivered %d; want 1 and 2", s.FloodWaits(), len(s.Inbox("friend1")))
	}
}

func TestResolveLimit(t *testing.T) {
	s := start(t, Options{Users: 3, ResolveLimit: 2, ResolveWait: 45 * time.Minute})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for i := 1; i <= 2; i++ {
			if _, err := resolve(ctx, api, fmt.Sprintf("friend%d", i)); err != nil {
				return err
			}
		}
		_, err := resolve(ctx, api, "friend3")
		if d, ok := tgerr.AsFloodWait(err); !ok || d != 45*time.Minute {
			return fmt.Errorf("third resolve: %v", err)
		}
		return nil
	})
}

// A lost answer without an acknowledgement: gotd resends on its new
// connection, and the random_id keeps it to one message.
func TestDroppedAnswerIsResentByGotd(t *testing.T) {
	s := start(t, Options{Users: 20, DropAnswer: 0.3, Seed: 7})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for i := 1; i <= 20; i++ {
			u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
			if err != nil {
				return err
			}
			if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: int64(i)}); err != nil {
				return fmt.Errorf("friend%d: %w", i, err)
			}
		}
		return nil
	})
	if s.DroppedAnswers() == 0 {
		t.Fatal("no answer was dropped; the test proves nothing")
	}
	for i := 1; i <= 20; i++ {
		if n := len(s.Inbox(fmt.Sprintf("friend%d", i))); n != 1 {
			t.Errorf("friend%d has %d copies", i, n)
		}
	}
}

// A lost answer after an acknowledgement: gotd gives up, and only a retry
// with the same random_id (the tool's job) completes the send exactly once.
func TestDroppedAckedAnswerNeedsCallerRetry(t *testing.T) {
	s := start(t, Options{Users: 20, DropAnswer: 0.3, AckBeforeDrop: true, Seed: 11})
	c := loggedIn(t, s)
	failures := 0
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for i := 1; i <= 20; i++ {
			u, err := resolve(ctx, api, fmt.Sprintf("friend%d", i))
			for err != nil {
				u, err = resolve(ctx, api, fmt.Sprintf("friend%d", i))
			}
			req := &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "hi", RandomID: int64(i)}
			for attempt := 0; ; attempt++ {
				_, err := api.MessagesSendMessage(ctx, req)
				if err == nil {
					break
				}
				if ctx.Err() != nil || attempt > 50 {
					return fmt.Errorf("friend%d: %w", i, err)
				}
				failures++
			}
		}
		return nil
	})
	if failures == 0 {
		t.Fatal("no send failed after an acknowledged drop; the test proves nothing")
	}
	for i := 1; i <= 20; i++ {
		if n := len(s.Inbox(fmt.Sprintf("friend%d", i))); n != 1 {
			t.Errorf("friend%d has %d copies", i, n)
		}
	}
}

func TestUploadAndSendByReference(t *testing.T) {
	s := start(t, Options{Users: 3})
	c := loggedIn(t, s)
	data := make([]byte, 700*1024) // two parts
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for part := 0; part < 2; part++ {
			chunk := data[part*512*1024 : min(len(data), (part+1)*512*1024)]
			if _, err := api.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 42, FilePart: part, Bytes: chunk}); err != nil {
				return err
			}
		}
		u1, _ := resolve(ctx, api, "friend1")
		u2, _ := resolve(ctx, api, "friend2")
		res, err := api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
			Peer: peer(u1), RandomID: 1, Message: "car.pdf",
			Media: &tg.InputMediaUploadedDocument{File: &tg.InputFile{ID: 42, Parts: 2, Name: "car.pdf"}, MimeType: "application/pdf"},
		})
		if err != nil {
			return err
		}
		var doc *tg.Document
		for _, u := range res.(*tg.Updates).Updates {
			if m, ok := u.(*tg.UpdateNewMessage); ok {
				doc = m.Message.(*tg.Message).Media.(*tg.MessageMediaDocument).Document.(*tg.Document)
			}
		}
		_, err = api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
			Peer: peer(u2), RandomID: 2, Message: "car.pdf",
			Media: &tg.InputMediaDocument{ID: &tg.InputDocument{ID: doc.ID, AccessHash: doc.AccessHash, FileReference: doc.FileReference}},
		})
		return err
	})
	if s.UploadedBytes() != int64(len(data)) {
		t.Errorf("uploaded %d bytes, want %d", s.UploadedBytes(), len(data))
	}
	a, b := s.Inbox("friend1"), s.Inbox("friend2")
	if len(a) != 1 || len(b) != 1 || a[0].Media == nil || b[0].Media == nil || a[0].Media.ID != b[0].Media.ID || a[0].Media.Size != int64(len(data)) {
		t.Fatalf("inboxes: %+v / %+v", a, b)
	}
}

// A client that connects and hangs up at once must not stop the server.
func TestEarlyHangupDoesNotStopServer(t *testing.T) {
	s := start(t, Options{Users: 1})
	for range 5 {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	botLogin(t, s, &session.StorageMemory{})
}

func TestInboxLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := start(t, Options{Users: 1, InboxLog: f})
	c := loggedIn(t, s)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		u, _ := resolve(ctx, api, "friend1")
		_, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "logged", RandomID: 5})
		return err
	})
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"to":"friend1"`) || !strings.Contains(string(b), `"text":"logged"`) {
		t.Fatalf("inbox log = %s", b)
	}
}

func TestBusyPort(t *testing.T) {
	s := start(t, Options{})
	if _, err := Start(Options{Addr: s.Addr()}); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("second server on %s: %v", s.Addr(), err)
	}
}
