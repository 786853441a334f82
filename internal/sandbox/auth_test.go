package sandbox

// auth_test.go: logins (bot token, phone code, 2FA), refused tokens and
// codes, and keys that are not logged in.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

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
		// (messages.getDialogs was one until chats.go implemented it.)
		_, err = api.AccountGetAuthorizations(ctx)
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
