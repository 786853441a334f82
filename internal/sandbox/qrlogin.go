package sandbox

// qrlogin.go owns login by QR code (https://core.telegram.org/api/qr-login):
// auth.exportLoginToken (the app that logs in shows the token),
// auth.acceptLoginToken (a logged-in phone scans it), the updateLoginToken
// the exporting connection is sent, and auth.importLoginToken (the token
// for the account's own DC when it lives elsewhere); and ways to play the
// phone: Scan here, and Options.QRAutoScan.

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/telegram/auth/qrlogin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
)

// DefaultLoginTokenTTL is how long a QR login token lives unless
// Options.LoginTokenTTL says otherwise: "usually 30 seconds"
// (https://core.telegram.org/api/qr-login, "Exporting a login token").
const DefaultLoginTokenTTL = 30 * time.Second

// DefaultScanner is the phone number of the account that scans QR codes
// when no other is named (Options.QRScanAs, Scan): the account that
// `echo 22222 | broadcast login --phone +15550000000` makes.
const DefaultScanner = "+15550000000"

// loginToken is one token auth.exportLoginToken handed out (export) or one
// auth.loginTokenMigrateTo carried (import).
type loginToken struct {
	token   []byte
	expires time.Time
	apiID   int
	// key, dc, session and srv name the exporting connection, which is
	// sent updateLoginToken when the token is accepted.
	key     [8]byte
	dc      int
	session tgtest.Session
	srv     *tgtest.Server
	// accepted is the account that accepted the token; 0 until then.
	accepted int64
	// migrateTo is the import token made for accepted's own DC, when the
	// token was exported on another one.
	migrateTo *loginToken
	// importFor is, on an import token, the account it logs in.
	importFor int64
	used      bool
}

// expired: past the expiry the client was told, in whole seconds.
func (t *loginToken) expired(now time.Time) bool { return now.Unix() > t.expires.Unix() }

// newLoginToken makes a token valid for Options.LoginTokenTTL. Its length
// (32 random bytes) is a guess: Telegram's tokens are opaque.
func (s *Server) newLoginToken(now time.Time) (*loginToken, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &loginToken{token: b, expires: now.Add(s.opts.LoginTokenTTL)}, nil
}

// authExportLoginToken answers auth.exportLoginToken
// (https://core.telegram.org/method/auth.exportLoginToken):
//
//   - A key already logged in gets auth.loginTokenSuccess with its account:
//     a repeat after the login finished (TDLib ignores a "duplicated
//     auth.Authorization", td/telegram/AuthManager.cpp); a guess.
//   - Once a token this key exported was accepted, the call the client
//     makes on updateLoginToken logs it in: auth.loginTokenSuccess, or 401
//     SESSION_PASSWORD_NEEDED with 2FA (TDLib's AuthManager then asks
//     account.getPassword on the same DC), or, when the account lives on
//     another DC, auth.loginTokenMigrateTo with that DC and a token for
//     auth.importLoginToken there (https://core.telegram.org/api/qr-login).
//     Asked again, it answers the same way, so a client that missed the
//     update and re-exports still finds its login.
//   - Otherwise a new auth.loginToken that expires after
//     Options.LoginTokenTTL. api_id and api_hash are not checked (any pair
//     works with the sandbox), nor are except_ids.
func (s *Server) authExportLoginToken(c *call) (bin.Encoder, error) {
	var r tg.AuthExportLoginTokenRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	now := time.Now()
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.self != nil {
		return &tg.AuthLoginTokenSuccess{Authorization: &tg.AuthAuthorization{User: c.self.tg(true)}}, nil
	}
	cs := w.cl()
	for _, t := range cs.tokens {
		if t.key != c.key || t.accepted == 0 || t.importFor != 0 {
			continue
		}
		u := w.users[t.accepted]
		if home := s.userDC(u); home != c.req.DC {
			if t.migrateTo == nil || t.migrateTo.expired(now) && !t.migrateTo.used {
				m, err := s.newLoginToken(now)
				if err != nil {
					return nil, err
				}
				m.dc, m.importFor = home, u.ID
				cs.tokens[string(m.token)] = m
				t.migrateTo = m
			}
			return &tg.AuthLoginTokenMigrateTo{DCID: home, Token: t.migrateTo.token}, nil
		}
		return s.tokenLogin(c.key, u)
	}
	t, err := s.newLoginToken(now)
	if err != nil {
		return nil, err
	}
	t.apiID, t.key, t.dc, t.session, t.srv = r.APIID, c.key, c.req.DC, c.req.Session, c.srv
	cs.tokens[string(t.token)] = t
	if d := s.opts.QRAutoScan; d > 0 {
		s.autoScan(t.token, d)
	}
	return &tg.AuthLoginToken{Expires: int(t.expires.Unix()), Token: t.token}, nil
}

// tokenLogin logs key in as u after a QR login: at once, or after the 2FA
// password (401 SESSION_PASSWORD_NEEDED, then account.getPassword and
// auth.checkPassword as for a phone login). Call with w.mu held.
func (s *Server) tokenLogin(key [8]byte, u *User) (bin.Encoder, error) {
	w := s.world
	if w.srp != nil {
		w.awaiting2F[key] = u.ID
		return nil, tgerr.New(401, "SESSION_PASSWORD_NEEDED")
	}
	w.sessions[key] = u.ID
	return &tg.AuthLoginTokenSuccess{Authorization: &tg.AuthAuthorization{User: u.tg(true)}}, nil
}

// authAcceptLoginToken answers auth.acceptLoginToken
// (https://core.telegram.org/method/auth.acceptLoginToken), which the phone
// calls with the token it scanned: see accept. Only users may call it
// ("Only users can use this method"); a bot gets BOT_METHOD_INVALID, a guess.
func (s *Server) authAcceptLoginToken(c *call) (bin.Encoder, error) {
	var r tg.AuthAcceptLoginTokenRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if c.self.Bot {
		return nil, tgerr.New(400, "BOT_METHOD_INVALID")
	}
	return s.accept(c.self.ID, r.Token)
}

// accept marks a token accepted by the account uid and tells the
// exporting connection with updateLoginToken ("A login token (for login
// via QR code) was accepted", https://core.telegram.org/constructor/updateLoginToken).
// The errors are the method page's: AUTH_TOKEN_INVALIDX for a token the
// sandbox never handed out (or one for importLoginToken),
// AUTH_TOKEN_EXPIRED past its expiry, AUTH_TOKEN_ALREADY_ACCEPTED for a
// second scan. The Authorization it returns describes the new session;
// tgtest drops initConnection's device fields, so they are placeholders.
func (s *Server) accept(uid int64, token []byte) (*tg.Authorization, error) {
	now := time.Now()
	w := s.world
	w.mu.Lock()
	t := w.cl().tokens[string(token)]
	switch {
	case t == nil || t.importFor != 0:
		w.mu.Unlock()
		return nil, tgerr.New(400, "AUTH_TOKEN_INVALIDX")
	case t.accepted != 0:
		w.mu.Unlock()
		return nil, tgerr.New(400, "AUTH_TOKEN_ALREADY_ACCEPTED")
	case t.expired(now):
		w.mu.Unlock()
		return nil, tgerr.New(400, "AUTH_TOKEN_EXPIRED")
	}
	t.accepted = uid
	srv, sess, apiID := t.srv, t.session, t.apiID
	hash := int64(w.rng.Uint64() >> 1)
	w.mu.Unlock()
	// Outside the lock: it writes to the exporting connection. A client
	// that is gone misses it, and finds the login when it exports again.
	if err := srv.SendUpdates(s.ctx, sess, &tg.UpdateLoginToken{}); err != nil {
		s.log.Debug("updateLoginToken not sent", "error", err)
	}
	return &tg.Authorization{
		Hash: hash, DeviceModel: "unknown", Platform: "unknown", SystemVersion: "unknown",
		APIID: apiID, AppName: "unknown", AppVersion: "unknown",
		DateCreated: int(now.Unix()), DateActive: int(now.Unix()), IP: "127.0.0.1", Country: "XX",
	}, nil
}

// authImportLoginToken answers auth.importLoginToken
// (https://core.telegram.org/method/auth.importLoginToken): the token of
// an auth.loginTokenMigrateTo, on the DC it named, logs the key in (or asks
// for the 2FA password, as TDLib expects: its AuthManager handles
// SESSION_PASSWORD_NEEDED for ImportQrCode). Errors from the method page:
// AUTH_TOKEN_INVALID for an unknown token or one for another DC (the DC
// part is a guess), AUTH_TOKEN_EXPIRED, AUTH_TOKEN_ALREADY_ACCEPTED for a
// second import.
func (s *Server) authImportLoginToken(c *call) (bin.Encoder, error) {
	var r tg.AuthImportLoginTokenRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.cl().tokens[string(r.Token)]
	switch {
	case t == nil || t.importFor == 0 || t.dc != c.req.DC:
		return nil, tgerr.New(400, "AUTH_TOKEN_INVALID")
	case t.used:
		return nil, tgerr.New(400, "AUTH_TOKEN_ALREADY_ACCEPTED")
	case t.expired(time.Now()):
		return nil, tgerr.New(400, "AUTH_TOKEN_EXPIRED")
	}
	t.used = true
	return s.tokenLogin(c.key, w.users[t.importFor])
}

// ErrScanAs: Scan was given no usable phone number.
var ErrScanAs = errors.New("the scanning account's phone number is not valid")

// Scan plays the phone that scans a QR code: the account with phone number
// as (DefaultScanner when empty; made if the sandbox has none yet, as a
// phone login would) accepts the token in tokenURL
// ("tg://login?token=…") exactly as auth.acceptLoginToken does. Errors are
// the method's (*tgerr.Error: AUTH_TOKEN_EXPIRED, …) or a malformed URL's.
func (s *Server) Scan(tokenURL, as string) (User, error) {
	t, err := qrlogin.ParseTokenURL(tokenURL)
	if err != nil {
		return User{}, fmt.Errorf("not a QR login link (tg://login?token=…): %w", err)
	}
	tok, err := decodeToken(t)
	if err != nil {
		return User{}, err
	}
	u, err := s.scanner(as)
	if err != nil {
		return User{}, err
	}
	if _, err := s.accept(u.ID, tok); err != nil {
		return User{}, err
	}
	return u, nil
}

// decodeToken is the token's bytes: qrlogin.Token keeps them unexported,
// and its String is their base64url.
func decodeToken(t qrlogin.Token) ([]byte, error) {
	return base64.URLEncoding.DecodeString(t.String())
}

// scanner is the account with phone number as, made like a phone login's
// when the sandbox has none.
func (s *Server) scanner(as string) (User, error) {
	if as == "" {
		as = DefaultScanner
	}
	phone, err := validPhone(as)
	if err != nil {
		return User{}, fmt.Errorf("%w: %q", ErrScanAs, as)
	}
	w := s.world
	w.mu.Lock()
	u := w.byPhone[phone]
	made := u == nil
	if made {
		w.nextID++
		u = &User{ID: w.nextID, AccessHash: accessHash(w.nextID), FirstName: "Me", LastName: "Sandbox", Phone: phone}
		w.add(u)
	}
	out := *u
	w.mu.Unlock()
	if made {
		s.saveOrWarn()
	}
	return out, nil
}

// autoScan accepts token after d as Options.QRScanAs, as if a phone had
// scanned it: a way to play the phone without a second command. Call with
// w.mu held (it only starts a goroutine).
func (s *Server) autoScan(token []byte, d time.Duration) {
	tok := append([]byte(nil), token...)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		u, err := s.scanner(s.opts.QRScanAs)
		if err == nil {
			_, err = s.accept(u.ID, tok)
		}
		if err != nil {
			s.log.Info("QR auto-scan: token not accepted", "error", err)
		}
	}()
}
