package sandbox

// qrlogin_test.go: login by QR code (qrlogin.go) as gotd's qrlogin package
// does it, with the phone played by Scan, ScanRemote and QRAutoScan.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth/qrlogin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// qrClient is a client that hears updateLoginToken, as a QR login needs.
func qrClient(t *testing.T, s *Server, storage telegram.SessionStorage) (*telegram.Client, qrlogin.LoggedIn) {
	t.Helper()
	d := tg.NewUpdateDispatcher()
	loggedIn := qrlogin.OnLoginToken(d)
	o := clientOptions(t, s, storage)
	keys, err := crypto.ParseRSAPublicKeys(s.PublicKeysPEM())
	if err != nil {
		t.Fatal(err)
	}
	o.PublicKeys = nil
	for _, k := range keys {
		o.PublicKeys = append(o.PublicKeys, telegram.PublicKey{RSA: k})
	}
	o.NoUpdates = false
	o.UpdateHandler = d
	return telegram.NewClient(telegram.TestAppID, telegram.TestAppHash, o), loggedIn
}

// qrLogin runs gotd's QR flow: every token it shows goes to shown, and a
// 2FA request is answered with password.
func qrLogin(ctx context.Context, c *telegram.Client, loggedIn qrlogin.LoggedIn, shown chan<- string, password string) (*tg.AuthAuthorization, error) {
	q := c.QR() // with Migrate: the client's own MigrateTo
	a, err := q.Auth(ctx, loggedIn, func(ctx context.Context, tok qrlogin.Token) error {
		shown <- tok.URL()
		return nil
	})
	var mig *qrlogin.MigrationNeededError
	if errors.As(err, &mig) {
		a, err = q.Import(ctx)
	}
	if tgerr.Is(err, "SESSION_PASSWORD_NEEDED") {
		return c.Auth().Password(ctx, password)
	}
	return a, err
}

// Scanned by a number on DC 3 while exported on DC 1: the client is told
// to migrate, imports the token there, gives the 2FA password, and its
// session is DC 3's. The token cannot be scanned twice.
func TestQRLoginMigratesWith2FA(t *testing.T) {
	s := startCluster(t, Options{Users: 3, Password: "pw"})
	storage := &session.StorageMemory{}
	c, loggedIn := qrClient(t, s, storage)
	shown := make(chan string, 4)
	scanned := make(chan error, 1)
	go func() {
		url := <-shown
		u, err := s.Scan(url, "+15550000002")
		if err == nil && u.Phone != "+15550000002" {
			err = fmt.Errorf("scanned as %+v", u)
		}
		if err == nil {
			if _, again := s.Scan(url, "+15550000002"); !tgerr.Is(again, "AUTH_TOKEN_ALREADY_ACCEPTED") {
				err = fmt.Errorf("second scan: %v", again)
			}
		}
		scanned <- err
	}()
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		a, err := qrLogin(ctx, c, loggedIn, shown, "pw")
		if err != nil {
			return err
		}
		if u := a.User.(*tg.User); u.Phone != "15550000002" {
			return fmt.Errorf("logged in as %+v", u)
		}
		return nil
	})
	if err := <-scanned; err != nil {
		t.Fatal(err)
	}
	if dc := sessionDC(t, storage); dc != 3 {
		t.Fatalf("session on DC %d, want 3", dc)
	}
	if s.CallsOn(3, "auth.importLoginToken") != 1 || s.CallsOn(3, "auth.checkPassword") != 1 || s.CallsOn(1, "auth.exportLoginToken") < 2 {
		t.Errorf("DC1 %v, DC3 %v", s.DCCallCounts(1), s.DCCallCounts(3))
	}
}

// A token that expires is exported again; the old one cannot be scanned,
// a new one logs in, on one DC and without 2FA.
func TestQRLoginTokenExpires(t *testing.T) {
	const ttl = 2 * time.Second
	s := start(t, Options{Users: 2, LoginTokenTTL: ttl})
	storage := &session.StorageMemory{}
	c, loggedIn := qrClient(t, s, storage)
	shown := make(chan string, 16)
	scanned := make(chan error, 1)
	go func() {
		first := <-shown
		// Exported before it was shown; expiry is kept in whole seconds.
		time.Sleep(ttl + time.Second)
		if _, err := s.Scan(first, ""); !tgerr.Is(err, "AUTH_TOKEN_EXPIRED") {
			scanned <- fmt.Errorf("expired token: %v", err)
			return
		}
		for len(shown) > 0 {
			<-shown
		}
		fresh := <-shown // just exported: well within its lifetime
		if fresh == first {
			scanned <- fmt.Errorf("the same token again: %s", first)
			return
		}
		_, err := s.Scan(fresh, "")
		scanned <- err
	}()
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		a, err := qrLogin(ctx, c, loggedIn, shown, "")
		if err != nil {
			return err
		}
		if u := a.User.(*tg.User); u.Phone != strings.TrimPrefix(DefaultScanner, "+") {
			return fmt.Errorf("logged in as %+v", u)
		}
		return nil
	})
	if err := <-scanned; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scan("tg://login?token=AAAA", ""); !tgerr.Is(err, "AUTH_TOKEN_INVALIDX") {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := s.Scan("https://example.org", ""); err == nil {
		t.Error("a web link was scanned")
	}
}

// The phone over MTProto (ScanRemote, `broadcast sandbox scan`) and the
// auto-scanning knob both log a QR client in.
func TestQRScanRemoteAndAutoScan(t *testing.T) {
	s := startCluster(t, Options{Users: 2})
	c, loggedIn := qrClient(t, s, nil)
	shown := make(chan string, 4)
	remote := make(chan error, 1)
	go func() {
		u, err := ScanRemote(context.Background(), ScanOptions{Server: s.Addr(), DC: s.DC(), KeysPEM: s.PublicKeysPEM(), Phone: "+15550000001", TokenURL: <-shown})
		if err == nil && u.Phone != "+15550000001" {
			err = fmt.Errorf("scanned as %+v", u)
		}
		remote <- err
	}()
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := qrLogin(ctx, c, loggedIn, shown, "")
		return err
	})
	if err := <-remote; err != nil {
		t.Fatal(err)
	}
	if s.CallsOn(2, "auth.acceptLoginToken") != 1 || s.CallsOn(2, "auth.importLoginToken") != 1 {
		t.Errorf("DC2 %v", s.DCCallCounts(2))
	}
	if _, err := ScanRemote(context.Background(), ScanOptions{Server: s.Addr(), DC: s.DC(), KeysPEM: s.PublicKeysPEM(), TokenURL: "tg://login?token=AAAA"}); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("unknown token: %v", err)
	}

	s = start(t, Options{Users: 2, QRAutoScan: 200 * time.Millisecond})
	c, loggedIn = qrClient(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		shown := make(chan string, 4)
		a, err := qrLogin(ctx, c, loggedIn, shown, "")
		if err == nil && a.User.(*tg.User).Phone != strings.TrimPrefix(DefaultScanner, "+") {
			err = fmt.Errorf("logged in as %+v", a.User)
		}
		return err
	})
}
