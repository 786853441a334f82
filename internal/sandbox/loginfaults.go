package sandbox

// loginfaults.go owns the ways a login or a saved session is refused, for
// testing how a client words them: a banned number, a flood wait on
// auth.sendCode, too many wrong 2FA passwords, a login code that expired,
// and sessions ended from elsewhere (RevokeSessions).

import (
	"time"

	"github.com/gotd/td/tgerr"
)

// sendCodeFaults are auth.sendCode's refusals, after the number is known
// to be well formed and on its home DC:
//
//   - FLOOD_WAIT_X with Options.LoginFloodWait: Telegram answers
//     auth.sendCode with FLOOD_WAIT_X when a number asks for codes too
//     often (field reports, e.g. zhukov/webogram#1824: FLOOD_WAIT_86).
//   - PHONE_NUMBER_BANNED (400) for Options.BannedPhones, from gotd's
//     schema docs; TDLib's AuthManager prints "Your phone number was
//     banned for suspicious activity" for it.
//   - PHONE_PASSWORD_FLOOD (406, "You have tried logging in too many
//     times", gotd's schema docs for auth.sendCode) once a number has
//     given Options.PasswordAttempts wrong 2FA passwords. The count, and
//     that only wrong passwords count, are a guess; Telegram says neither.
//
// Call with w.mu held.
func (s *Server) sendCodeFaults(phone string) error {
	w := s.world
	if d := s.opts.LoginFloodWait; d > 0 {
		return floodWait(d)
	}
	for _, b := range s.opts.BannedPhones {
		if p, err := validPhone(b); err == nil && p == phone {
			return tgerr.New(400, "PHONE_NUMBER_BANNED")
		}
	}
	if n := s.opts.PasswordAttempts; n > 0 && w.cl().passwordFails[phone] >= n {
		return tgerr.New(406, "PHONE_PASSWORD_FLOOD")
	}
	return nil
}

// codeExpired reports whether the code behind hash was handed out longer
// than Options.LoginCodeTTL ago: auth.signIn then answers
// PHONE_CODE_EXPIRED (gotd's schema docs for auth.signIn). Telegram's own
// lifetime for a code is not documented. Call with w.mu held.
func (s *Server) codeExpired(hash string, now time.Time) bool {
	ttl := s.opts.LoginCodeTTL
	if ttl <= 0 {
		return false
	}
	sent, ok := s.world.cl().codeSent[hash]
	return ok && now.Sub(sent) > ttl
}

// wrongPassword counts a wrong 2FA password for the account's number.
// Call with w.mu held.
func (w *world) wrongPassword(uid int64) {
	if u := w.users[uid]; u != nil && u.Phone != "" {
		w.cl().passwordFails[u.Phone]++
	}
}

// errSessionRevoked is how Telegram refuses a key whose login was ended
// from another device: 401 SESSION_REVOKED, "the authorization has been
// invalidated, because of the user terminating all sessions"
// (https://core.telegram.org/api/errors#401-unauthorized).
var errSessionRevoked = tgerr.New(401, "SESSION_REVOKED")

// unauthorized is the answer to a key that is not logged in and calls a
// method that needs a login: SESSION_REVOKED when RevokeSessions ended its
// login, else AUTH_KEY_UNREGISTERED.
func (s *Server) unauthorized(key [8]byte) error {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cluster != nil && w.cluster.revoked[key] {
		return errSessionRevoked
	}
	return errAuthKeyUnregistered
}

// RevokeSessions ends every login of the account name (username, phone or
// "id:N"), as "Terminate all other sessions" in a Telegram app does: each
// of its auth keys gets SESSION_REVOKED from then on. It returns how many
// logins it ended.
func (s *Server) RevokeSessions(name string) int {
	w := s.world
	w.mu.Lock()
	u := w.lookup(name)
	n := 0
	if u != nil {
		for k, id := range w.sessions {
			if id == u.ID {
				delete(w.sessions, k)
				w.cl().revoked[k] = true
				n++
			}
		}
	}
	w.mu.Unlock()
	if n > 0 {
		s.saveOrWarn()
	}
	return n
}
