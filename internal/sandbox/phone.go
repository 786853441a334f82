package sandbox

// phone.go owns playing the phone from outside a running sandbox: a real
// MTProto client that logs in to it as an account and scans a QR login
// token with auth.acceptLoginToken, as Telegram's app does under Settings →
// Devices → Link Desktop Device. `broadcast sandbox scan` is built on it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/auth/qrlogin"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// ScanOptions say how the phone reaches a running sandbox and who it is.
type ScanOptions struct {
	// Server is the first DC's address and DC its id; KeysPEM every DC's
	// public key (the server.pem WriteConfig writes).
	Server  string
	DC      int
	KeysPEM []byte
	// Phone is the scanning account (DefaultScanner when empty); Code its
	// login code (LoginCode when empty); Password its 2FA password, when
	// the sandbox asks for one.
	Phone    string
	Code     string
	Password string
	// TokenURL is the link the QR code holds: tg://login?token=….
	TokenURL string
	// Timeout bounds the whole scan; default 30 s.
	Timeout time.Duration
	// Logger receives the client's logs; none when nil.
	Logger *slog.Logger
}

// Errors ScanRemote's callers branch on.
var (
	// ErrTokenExpired: the code was scanned after it expired.
	ErrTokenExpired = errors.New("the QR code has expired (AUTH_TOKEN_EXPIRED)")
	// ErrTokenAccepted: the code was already scanned.
	ErrTokenAccepted = errors.New("the QR code was already scanned (AUTH_TOKEN_ALREADY_ACCEPTED)")
	// ErrTokenUnknown: the sandbox never showed this code.
	ErrTokenUnknown = errors.New("the sandbox did not make this QR code (AUTH_TOKEN_INVALIDX)")
	// ErrBadTokenURL: the text is not a tg://login?token=… link.
	ErrBadTokenURL = errors.New("not a QR login link (tg://login?token=…)")
	// ErrScanPassword: the scanning account has a 2FA password that was
	// not given or is wrong.
	ErrScanPassword = errors.New("the scanning account's 2FA password is missing or wrong")
	// ErrScanUnreachable: the sandbox did not answer in time.
	ErrScanUnreachable = errors.New("the sandbox did not answer")
)

// ScanRemote logs in to the sandbox at o.Server as o.Phone, over MTProto
// with the code every sandbox number accepts (following PHONE_MIGRATE_X to
// the number's DC as any client does), accepts the token with
// auth.acceptLoginToken, and logs out again. It returns the account that
// scanned, the one the QR login logs in as.
func ScanRemote(ctx context.Context, o ScanOptions) (User, error) {
	tok, err := qrlogin.ParseTokenURL(o.TokenURL)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrBadTokenURL, err)
	}
	raw, err := decodeToken(tok)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrBadTokenURL, err)
	}
	if o.Phone == "" {
		o.Phone = DefaultScanner
	}
	phone, err := validPhone(o.Phone)
	if err != nil {
		return User{}, fmt.Errorf("%w: %q", ErrScanAs, o.Phone)
	}
	if o.Code == "" {
		o.Code = LoginCode
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	opts, err := phoneOptions(o)
	if err != nil {
		return User{}, err
	}
	client := telegram.NewClient(AppID, AppHash, opts)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var (
		me    User
		inner error // the callback's own error, without gotd's "callback:" wrapping
	)
	err = client.Run(ctx, func(ctx context.Context) error {
		inner = scan(ctx, client, phone, raw, o, &me)
		return inner
	})
	switch {
	case inner != nil:
		return User{}, inner
	case err != nil && ctx.Err() != nil:
		return User{}, fmt.Errorf("%w at %s within %s", ErrScanUnreachable, o.Server, o.Timeout)
	}
	return me, err
}

// scan is ScanRemote's work once connected: log in, accept, log out.
func scan(ctx context.Context, client *telegram.Client, phone string, raw []byte, o ScanOptions, me *User) error {
	creds := auth.Constant(phone, o.Password, auth.CodeAuthenticatorFunc(func(context.Context, *tg.AuthSentCode) (string, error) {
		return o.Code, nil
	}))
	if err := auth.NewFlow(creds, auth.SendCodeOptions{}).Run(ctx, client.Auth()); err != nil {
		if errors.Is(err, auth.ErrPasswordInvalid) {
			return ErrScanPassword
		}
		return fmt.Errorf("log the phone in as %s: %w", phone, err)
	}
	// The phone is a throwaway app: log it out whatever happens next.
	defer func() { _, _ = client.API().AuthLogOut(context.WithoutCancel(ctx)) }()
	self, err := client.Self(ctx)
	if err != nil {
		return err
	}
	if _, err := client.API().AuthAcceptLoginToken(ctx, raw); err != nil {
		return scanError(err)
	}
	*me = User{ID: self.ID, AccessHash: self.AccessHash, Username: self.Username, FirstName: self.FirstName,
		LastName: self.LastName, Phone: "+" + self.Phone, Bot: self.Bot}
	return nil
}

// scanError names auth.acceptLoginToken's refusals.
func scanError(err error) error {
	switch {
	case tgerr.Is(err, "AUTH_TOKEN_EXPIRED"):
		return ErrTokenExpired
	case tgerr.Is(err, "AUTH_TOKEN_ALREADY_ACCEPTED"):
		return ErrTokenAccepted
	case tgerr.Is(err, "AUTH_TOKEN_INVALIDX", "AUTH_TOKEN_INVALID"):
		return ErrTokenUnknown
	}
	return fmt.Errorf("accept the QR login token: %w", err)
}

// phoneOptions is a gotd client for the sandbox's first DC, with every DC's
// key and a session that lives in memory only.
func phoneOptions(o ScanOptions) (telegram.Options, error) {
	host, portStr, err := net.SplitHostPort(o.Server)
	if err != nil {
		return telegram.Options{}, fmt.Errorf("sandbox address %q: %w", o.Server, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return telegram.Options{}, fmt.Errorf("sandbox address %q: bad port", o.Server)
	}
	keys, err := crypto.ParseRSAPublicKeys(o.KeysPEM)
	if err != nil || len(keys) == 0 {
		return telegram.Options{}, fmt.Errorf("the sandbox's key file holds no RSA public key: %v", err)
	}
	opts := telegram.Options{
		DC:             o.DC,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: o.DC, IPAddress: host, Port: port}}},
		SessionStorage: &session.StorageMemory{},
		NoUpdates:      true,
		Device:         telegram.DeviceConfig{DeviceModel: "sandbox phone", SystemVersion: "sandbox", AppVersion: "1.0"},
	}
	for _, k := range keys {
		opts.PublicKeys = append(opts.PublicKeys, telegram.PublicKey{RSA: k})
	}
	if o.Logger != nil {
		opts.Logger = logslog.New(o.Logger)
	}
	return opts, nil
}
