package main

// loginexit.go words the refusals of a login, and of a session Telegram
// has ended, for exit.go's classify: all exit 4, since the remedy is a
// (later) `broadcast login`.

import (
	"errors"

	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// classifyLoginRefusal: Telegram refused the login itself.
func classifyLoginRefusal(err error) (int, string, bool) {
	var flood *telegram.LoginFloodError
	switch {
	case errors.As(err, &flood):
		return exitAuth, "wait that long, then run `broadcast login` again", true
	case errors.Is(err, telegram.ErrCodeExpired):
		return exitAuth, "run `broadcast login` again and type the new code as soon as it arrives", true
	case errors.Is(err, telegram.ErrPhoneBanned):
		return exitAuth, "if you think this is a mistake, write to recover@telegram.org with the number (Telegram's own advice)", true
	case errors.Is(err, telegram.ErrPasswordFlood):
		return exitAuth, "wait before trying again (Telegram does not say for how long), then run `broadcast login` with the right password", true
	case errors.Is(err, telegram.ErrQRExpired):
		return exitAuth, "run `broadcast login --qr` again and scan the new code before it expires", true
	}
	return 0, "", false
}

// sessionEndedHint says what to do about a session Telegram ended, by why.
func sessionEndedHint(err error) string {
	var ended *telegram.SessionEndedError
	if errors.As(err, &ended) {
		switch ended.Type {
		case "AUTH_KEY_UNREGISTERED":
			return "run `broadcast login` again; a session moved with `session export` ends everywhere when one machine logs out"
		case "SESSION_REVOKED":
			return "run `broadcast login` again; if you did not end it yourself, check Settings → Devices in your Telegram app"
		}
	}
	return "the server ended this session: run `broadcast login` again"
}
