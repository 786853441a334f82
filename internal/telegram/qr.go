package telegram

// qr.go owns logging in by QR code (https://core.telegram.org/api/qr-login)
// with gotd's telegram/auth/qrlogin, and Login, which keeps the state dir
// whole around any login flow.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/telegram/auth/qrlogin"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// QRCode is one QR login token to show: the tg://login?token=… link the
// code holds, and when it expires (another follows then).
type QRCode struct {
	URL     string
	Expires time.Time
}

// QRPrompter is what a QR login asks of the person logging in: to see each
// code (a new one replaces the last when it expires), and the 2FA password
// when the account has one. Implementations never log the password.
type QRPrompter interface {
	ShowQR(ctx context.Context, code QRCode) error
	Password(ctx context.Context) (string, error)
}

// ErrNotQRClient: LoginQR on a client built without Options.QRLogin.
var ErrNotQRClient = errors.New("a QR login needs a client built with QRLogin")

// LoginQR logs in by QR code and saves the account. gotd's qrlogin does the
// protocol: auth.exportLoginToken, showing the token, waiting for
// updateLoginToken (the phone accepted it) or the token's expiry (then a
// new token), and, when the account lives on another DC,
// auth.loginTokenMigrateTo: the client moves there and calls
// auth.importLoginToken. A 2FA account answers SESSION_PASSWORD_NEEDED on
// that last step (gotd's examples/qrauth.go; TDLib's AuthManager handles
// it the same way); the password then goes through the SRP check as in a
// phone login. It waits until the code is scanned or ctx ends.
func (c *Client) LoginQR(ctx context.Context, p QRPrompter) (store.Account, error) {
	if c.loggedIn == nil {
		return store.Account{}, ErrNotQRClient
	}
	q := c.raw.QR() // follows loginTokenMigrateTo with the client's MigrateTo
	a, err := q.Auth(ctx, c.loggedIn, func(ctx context.Context, t qrlogin.Token) error {
		return p.ShowQR(ctx, QRCode{URL: t.URL(), Expires: t.Expires()})
	})
	var mig *qrlogin.MigrationNeededError
	if errors.As(err, &mig) {
		// qrlogin's Auth meets a migration itself only when it missed the
		// update and re-exported after the token's expiry; Import, which
		// exports again, migrates and imports, finishes the login.
		a, err = q.Import(ctx)
	}
	if tgerr.Is(err, "SESSION_PASSWORD_NEEDED") {
		pw, perr := p.Password(ctx)
		if perr != nil {
			return store.Account{}, perr
		}
		a, err = c.raw.Auth().Password(ctx, pw)
	}
	if err != nil {
		if ctx.Err() != nil {
			// Ctrl-C: gotd's own error would read like a network failure.
			return store.Account{}, fmt.Errorf("QR login: %w", context.Cause(ctx))
		}
		if le := loginError(err); le != nil {
			return store.Account{}, le
		}
		return store.Account{}, fmt.Errorf("QR login: %w", err)
	}
	return c.saveAccount(a.User)
}

// Login connects and runs one login flow, keeping the state dir whole: if
// the flow fails or is interrupted, what was there before is put back (the
// session and account of an earlier login, or nothing), so a half-finished
// login never leaves a key the server has not logged in, or one a
// migration swapped in, under an account's name. fresh starts the flow
// from a new auth key, as a QR login must (the token belongs to a key that
// is not logged in yet).
func (c *Client) Login(ctx context.Context, fresh bool, flow func(ctx context.Context) (store.Account, error)) (store.Account, error) {
	st := c.opts.Store
	prevSession, serr := st.LoadSession()
	prevAccount, aerr := st.LoadAccount()
	if fresh {
		if err := st.DeleteSession(); err != nil {
			return store.Account{}, err
		}
	}
	var acct store.Account
	err := c.Run(ctx, func(ctx context.Context) error {
		var err error
		acct, err = flow(ctx)
		return err
	})
	if err == nil {
		return acct, nil
	}
	var rerr error
	if serr == nil && aerr == nil {
		rerr = st.StoreLogin(prevSession, prevAccount)
	} else {
		rerr = st.DeleteSession()
	}
	if rerr != nil {
		return store.Account{}, errors.Join(err, fmt.Errorf("put the earlier session back: %w", rerr))
	}
	return store.Account{}, err
}
