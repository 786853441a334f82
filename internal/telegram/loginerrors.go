package telegram

// loginerrors.go owns how a login's refusals and a dead session reach the
// caller: one typed error or sentinel per case, with Telegram's error type
// in the text, so cmd/broadcast can word the hint and pick the exit code.

import (
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tgerr"
)

// More login refusals a caller turns into hints (see also login.go).
var (
	// ErrPhoneBanned: PHONE_NUMBER_BANNED. TDLib tells its users to write
	// to recover@telegram.org (td/telegram/AuthManager.cpp).
	ErrPhoneBanned = errors.New("Telegram has banned this phone number (PHONE_NUMBER_BANNED)")
	// ErrPasswordFlood: PHONE_PASSWORD_FLOOD, "you have tried logging in
	// too many times" (gotd's schema docs for auth.sendCode). Telegram
	// does not say for how long.
	ErrPasswordFlood = errors.New("too many login attempts with a wrong 2FA password (PHONE_PASSWORD_FLOOD)")
	// ErrQRExpired: AUTH_TOKEN_EXPIRED, the QR login token expired before
	// the login could use it.
	ErrQRExpired = errors.New("the QR login token expired before the login finished (AUTH_TOKEN_EXPIRED)")
)

// LoginFloodError: Telegram answered a login step with FLOOD_WAIT_X.
type LoginFloodError struct {
	Wait time.Duration
}

func (e *LoginFloodError) Error() string {
	return fmt.Sprintf("Telegram asks to wait %s before the next login attempt (FLOOD_WAIT_%d)", e.Wait, int(e.Wait/time.Second))
}

// SessionEndedError: the server no longer accepts the saved session. Type
// is Telegram's reason; errors.Is(err, ErrSessionRevoked) holds for it.
type SessionEndedError struct {
	Type string // AUTH_KEY_UNREGISTERED, SESSION_REVOKED, …
}

func (e *SessionEndedError) Error() string {
	switch e.Type {
	case "AUTH_KEY_UNREGISTERED":
		// https://core.telegram.org/api/errors#401-unauthorized: "the key
		// is not registered in the system" — logged out, here or on a
		// machine the session was copied to.
		return "Telegram no longer knows this session: it was logged out (AUTH_KEY_UNREGISTERED)"
	case "SESSION_REVOKED":
		// "The authorization has been invalidated, because of the user
		// terminating all sessions" (the same page).
		return "this session was ended from another device (SESSION_REVOKED)"
	case "SESSION_EXPIRED":
		return "this session has expired (SESSION_EXPIRED)"
	case "USER_DEACTIVATED", "USER_DEACTIVATED_BAN":
		return fmt.Sprintf("this account was deleted or banned (%s)", e.Type)
	case "AUTH_KEY_DUPLICATED":
		return "this session was used from two places at once and Telegram ended it (AUTH_KEY_DUPLICATED)"
	}
	return fmt.Sprintf("%s (%s)", ErrSessionRevoked, e.Type)
}

// Is makes the error ErrSessionRevoked for errors.Is.
func (e *SessionEndedError) Is(target error) bool { return target == ErrSessionRevoked }

// loginError maps what a login step's error means for the person logging
// in; nil when it is none of the known refusals.
func loginError(err error) error {
	if d, ok := tgerr.AsFloodWait(err); ok {
		return &LoginFloodError{Wait: max(d, time.Second)}
	}
	rpc, ok := tgerr.As(err)
	switch {
	case errors.Is(err, auth.ErrPasswordInvalid):
		return ErrBadPassword
	case !ok:
		return nil
	case rpc.IsOneOf("PHONE_CODE_INVALID", "PHONE_CODE_EMPTY"):
		return ErrBadCode
	case rpc.IsType("PHONE_CODE_EXPIRED"):
		return ErrCodeExpired
	case rpc.IsOneOf("PHONE_NUMBER_INVALID"):
		return ErrBadPhone
	case rpc.IsType("PHONE_NUMBER_BANNED"):
		return ErrPhoneBanned
	case rpc.IsType("PHONE_PASSWORD_FLOOD"):
		return ErrPasswordFlood
	case rpc.IsOneOf("ACCESS_TOKEN_INVALID", "ACCESS_TOKEN_EXPIRED"):
		return ErrBadBotToken
	case rpc.IsType("AUTH_TOKEN_EXPIRED"):
		return ErrQRExpired
	case sessionDead[rpc.Type]:
		return &SessionEndedError{Type: rpc.Type}
	}
	return nil
}
