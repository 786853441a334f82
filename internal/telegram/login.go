package telegram

import (
	"context"
	"errors"
	"fmt"

	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// Prompter supplies what a phone login asks for. Implementations read the
// terminal or stdin; they never log what they return.
type Prompter interface {
	Code(ctx context.Context) (string, error)
	Password(ctx context.Context) (string, error)
}

// CodeRetrier is a Prompter that may be asked again after a wrong code: a
// person at a terminal mistypes, a script does not (it gets one try).
type CodeRetrier interface {
	// CodeTries is how many codes may be tried in all.
	CodeTries() int
	// BadCode is told that a code was wrong and how many tries are left,
	// before Code is asked again.
	BadCode(left int)
}

// Login errors a caller turns into hints.
var (
	ErrBadCode     = errors.New("the login code is not valid")
	ErrBadPassword = errors.New("the 2FA password is not valid")
	ErrBadBotToken = errors.New("the bot token is not valid")
	ErrBadPhone    = errors.New("the phone number is not valid")
	ErrCodeExpired = errors.New("the login code has expired")
	ErrNeedsSignUp = errors.New("this phone number has no Telegram account")
)

// LoginBot signs in with a bot token and saves the account.
func (c *Client) LoginBot(ctx context.Context, token string) (store.Account, error) {
	// A bot that lives on another DC is answered USER_MIGRATE_X, which
	// gotd follows by itself (shared/TELEGRAM.md, "DC migration").
	a, err := c.raw.Auth().Bot(ctx, token)
	if err != nil {
		if le := loginError(err); le != nil {
			return store.Account{}, le
		}
		return store.Account{}, fmt.Errorf("bot login: %w", err)
	}
	return c.saveAccount(a.User)
}

// LoginPhone signs in with a phone number, a code and, when the account has
// one, a 2FA password, through gotd's auth flow. A number that lives on
// another DC is answered PHONE_MIGRATE_X on auth.sendCode; gotd moves the
// connection there and goes on, so the session is saved on its home DC.
// (Telegram's test DCs work the same way: 99966XYYYY lives on DC X.)
func (c *Client) LoginPhone(ctx context.Context, phone string, p Prompter) (store.Account, error) {
	flow := auth.NewFlow(userAuth{phone: phone, p: p}, auth.SendCodeOptions{})
	if err := flow.Run(ctx, codeRetries{FlowClient: c.raw.Auth(), p: p}); err != nil {
		var pe *promptError
		switch {
		case errors.As(err, &pe):
			// The prompter's own error (no code on stdin, say) is already
			// worded for the user.
			return store.Account{}, pe.err
		case errors.Is(err, errNoSignUp):
			return store.Account{}, ErrNeedsSignUp
		case loginError(err) != nil:
			return store.Account{}, loginError(err)
		}
		return store.Account{}, fmt.Errorf("phone login: %w", err)
	}
	// The flow does not hand back the user: one users.getUsers, at login
	// only, so later runs know the account without asking.
	self, err := c.raw.Self(ctx)
	if err != nil {
		return store.Account{}, fmt.Errorf("get account: %w", err)
	}
	return c.saveAccount(self)
}

func (c *Client) saveAccount(u tg.UserClass) (store.Account, error) {
	user, ok := u.(*tg.User)
	if !ok {
		return store.Account{}, fmt.Errorf("login returned %T instead of a user", u)
	}
	a := store.Account{
		ID:        user.ID,
		Bot:       user.Bot,
		Username:  user.Username,
		FirstName: user.FirstName,
		LastName:  user.LastName,
		Phone:     user.Phone,
		Server:    c.ServerName(),
	}
	if err := c.opts.Store.StoreAccount(a); err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// Logout ends the session on the server, then deletes it locally. A session
// the server already forgot is deleted all the same.
func (c *Client) Logout(ctx context.Context) error {
	if _, err := c.api.AuthLogOut(ctx); err != nil && !auth.IsUnauthorized(err) {
		return fmt.Errorf("log out: %w", err)
	}
	return c.opts.Store.DeleteSession()
}

var errNoSignUp = errors.New("sign up is not supported")

// codeRetries is gotd's auth client with a second (and third) chance for a
// mistyped login code: the same code hash stays valid, so only SignIn is
// repeated, with a new code from the Prompter.
type codeRetries struct {
	auth.FlowClient
	p Prompter
}

func (c codeRetries) SignIn(ctx context.Context, phone, code, hash string) (*tg.AuthAuthorization, error) {
	tries := 1
	r, ok := c.p.(CodeRetrier)
	if ok {
		tries = max(1, r.CodeTries())
	}
	for attempt := 1; ; attempt++ {
		a, err := c.FlowClient.SignIn(ctx, phone, code, hash)
		if !tgerr.Is(err, "PHONE_CODE_INVALID") || attempt >= tries {
			return a, err
		}
		r.BadCode(tries - attempt)
		if code, err = c.p.Code(ctx); err != nil {
			return nil, &promptError{err}
		}
	}
}

// userAuth adapts a Prompter to gotd's auth.UserAuthenticator.
type userAuth struct {
	phone string
	p     Prompter
}

func (u userAuth) Phone(context.Context) (string, error) { return u.phone, nil }

func (u userAuth) Password(ctx context.Context) (string, error) {
	pw, err := u.p.Password(ctx)
	if err != nil {
		return "", &promptError{err}
	}
	return pw, nil
}

func (u userAuth) Code(ctx context.Context, _ *tg.AuthSentCode) (string, error) {
	code, err := u.p.Code(ctx)
	if err != nil {
		return "", &promptError{err}
	}
	return code, nil
}

// promptError marks an error from the Prompter through gotd's wrapping.
type promptError struct{ err error }

func (e *promptError) Error() string { return e.err.Error() }
func (e *promptError) Unwrap() error { return e.err }

func (u userAuth) AcceptTermsOfService(context.Context, tg.HelpTermsOfService) error {
	return errNoSignUp
}

func (u userAuth) SignUp(context.Context) (auth.UserInfo, error) {
	return auth.UserInfo{}, errNoSignUp
}
