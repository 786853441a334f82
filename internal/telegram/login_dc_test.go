package telegram

// login_dc_test.go: the login refusals' mapping (loginerrors.go), what the
// saved session says about DCs (dclist.go), and Login keeping the state dir
// whole (qr.go), against the sandbox where it takes a server.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

func TestLoginErrorMapping(t *testing.T) {
	for _, c := range []struct {
		in   error
		want error
	}{
		{tgerr.New(400, "PHONE_CODE_INVALID"), ErrBadCode},
		{tgerr.New(400, "PHONE_CODE_EXPIRED"), ErrCodeExpired},
		{tgerr.New(406, "PHONE_NUMBER_INVALID"), ErrBadPhone},
		{tgerr.New(400, "PHONE_NUMBER_BANNED"), ErrPhoneBanned},
		{tgerr.New(406, "PHONE_PASSWORD_FLOOD"), ErrPasswordFlood},
		{tgerr.New(400, "AUTH_TOKEN_EXPIRED"), ErrQRExpired},
		{tgerr.New(400, "ACCESS_TOKEN_INVALID"), ErrBadBotToken},
		{fmt.Errorf("sign in: %w", auth.ErrPasswordInvalid), ErrBadPassword},
		{tgerr.New(401, "SESSION_REVOKED"), ErrSessionRevoked},
		{tgerr.New(401, "AUTH_KEY_UNREGISTERED"), ErrSessionRevoked},
		{tgerr.New(400, "SOMETHING_ELSE"), nil},
		{errors.New("connection reset"), nil},
	} {
		got := loginError(fmt.Errorf("wrapped: %w", c.in))
		if c.want == nil && got != nil || c.want != nil && !errors.Is(got, c.want) {
			t.Errorf("loginError(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	var flood *LoginFloodError
	if err := loginError(tgerr.New(420, "FLOOD_WAIT_3720")); !errors.As(err, &flood) || flood.Wait != 62*time.Minute ||
		err.Error() != "Telegram asks to wait 1h2m0s before the next login attempt (FLOOD_WAIT_3720)" {
		t.Errorf("flood wait: %v", err)
	}
	var ended *SessionEndedError
	if err := classify(tgerr.New(401, "SESSION_REVOKED")); !errors.As(err, &ended) || ended.Type != "SESSION_REVOKED" || !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("classify: %v", err)
	}
}

// A saved session's DC list fills in what a custom server's config lacks,
// and the configured address of the configured DC wins.
func TestWithSavedDCs(t *testing.T) {
	st := openStore(t)
	if got := withSavedDCs([]tg.DCOption{{ID: 1, IPAddress: "10.0.0.1", Port: 1}}, st); len(got) != 1 {
		t.Fatalf("no session: %v", got)
	}
	key := make([]byte, 256)
	data := session.Data{DC: 3, AuthKey: key, AuthKeyID: make([]byte, 8), Config: session.Config{DCOptions: []tg.DCOption{
		{ID: 1, IPAddress: "127.0.0.1", Port: 4001},
		{ID: 2, IPAddress: "127.0.0.1", Port: 4002},
		{ID: 3, IPAddress: "127.0.0.1", Port: 4003},
		{ID: 3, IPAddress: "127.0.0.2", Port: 4004, MediaOnly: true},
	}}}
	b, _ := json.Marshal(struct {
		Version int
		Data    session.Data
	}{1, data})
	if err := st.StoreSession(b); err != nil {
		t.Fatal(err)
	}
	got := withSavedDCs([]tg.DCOption{{ID: 1, IPAddress: "10.0.0.1", Port: 1}}, st)
	if fmt.Sprint(got) != fmt.Sprint([]tg.DCOption{{ID: 1, IPAddress: "10.0.0.1", Port: 1}, data.Config.DCOptions[1], data.Config.DCOptions[2]}) {
		t.Errorf("got %v", got)
	}
	if dc, err := SessionDC(st); err != nil || dc != 3 {
		t.Errorf("SessionDC = %d, %v", dc, err)
	}
	if _, err := SessionDC(openStore(t)); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("SessionDC with no session: %v", err)
	}
}

// Login puts the earlier session back when a login fails, and leaves no
// session behind when there was none.
func TestLoginKeepsStateWhole(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{Users: 1, DCs: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st := openStore(t)
	newClient := func() *Client {
		c, err := New(Options{APIID: sandbox.AppID, APIHash: sandbox.AppHash, Server: srv.Addr(), ServerKeys: srv.PublicKeysPEM(), DC: srv.DC(), Store: st, ConnectTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	fail := errors.New("the person gave up")
	// A login that fails with nobody logged in before: nothing is left
	// (gotd saved the new auth key as soon as it connected).
	_, err = newClient().Login(ctx, false, func(ctx context.Context) (store.Account, error) {
		return store.Account{}, fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("login: %v", err)
	}
	if _, err := st.LoadSession(); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session was left: %v", err)
	}

	// A bot logged in on DC 1, then a failed login on DC 3: the bot's
	// session and account are back.
	c := newClient()
	if _, err := c.Login(ctx, false, func(ctx context.Context) (store.Account, error) { return c.LoginBot(ctx, sandbox.BotToken) }); err != nil {
		t.Fatal(err)
	}
	before, _ := st.LoadSession()
	c = newClient()
	_, err = c.Login(ctx, true, func(ctx context.Context) (store.Account, error) {
		if _, err := c.LoginBot(ctx, "123458:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"); err != nil {
			return store.Account{}, err
		}
		return store.Account{}, fail // after the migration to DC 3 and its login
	})
	if !errors.Is(err, fail) {
		t.Fatalf("second login: %v", err)
	}
	after, _ := st.LoadSession()
	a, aerr := st.LoadAccount()
	if string(after) != string(before) || aerr != nil || a.ID != 123456 {
		t.Errorf("the earlier login was not put back: account %+v, %v", a, aerr)
	}
	if dc, _ := SessionDC(st); dc != 1 {
		t.Errorf("session on DC %d, want 1", dc)
	}
}
