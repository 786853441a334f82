package sandbox

// sandbox_test.go: the helpers every test file shares (start, client, run,
// botLogin, loggedIn, resolve, peer), resolving (users.go), and the server
// itself: hang-ups, the inbox log, a busy port.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
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
