package sandbox

// auth.go owns logging in and out: the phone login (auth.sendCode,
// auth.signIn, the login code), the 2FA password (account.getPassword and
// auth.checkPassword, with the SRP math in srp.go), bot tokens
// (auth.importBotAuthorization) and auth.logOut. A login binds the auth key
// to an account in world.sessions.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// LoginCode is the code phone logins accept by default, as on Telegram's
// test DCs: the DC number repeated to the code's length, five by default
// (https://core.telegram.org/api/auth#test-accounts; gotd's auth.TestUser).
const LoginCode = "22222"

// phoneRe is the shape of an international number: at most 15 digits as
// E.164 allows; the minimum of 5 is a guess.
var phoneRe = regexp.MustCompile(`^\+?[0-9]{5,15}$`)

func normPhone(p string) string {
	p = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(p)
	return "+" + strings.TrimPrefix(p, "+")
}

// validPhone normalises p ("+" and digits) and checks its shape. gotd's
// schema docs give PHONE_NUMBER_INVALID as 406 for auth.sendCode; the
// sandbox answers 400, which clients that match the type (as they should)
// do not see.
func validPhone(p string) (string, error) {
	phone := normPhone(p)
	if !phoneRe.MatchString(phone) {
		return "", tgerr.New(400, "PHONE_NUMBER_INVALID")
	}
	return phone, nil
}

// authSendCode answers auth.sendCode
// (https://core.telegram.org/method/auth.sendCode): a phone_code_hash for
// the number and auth.sentCodeTypeApp with the code's length, as if the
// code went to another logged-in app. No code is sent: every number accepts
// Options.LoginCode. With several DCs a number that lives on another one
// gets PHONE_MIGRATE_X (transfer.go); sendCodeFaults (loginfaults.go) adds
// the refusals the Options ask for.
func (s *Server) authSendCode(c *call) (bin.Encoder, error) {
	var r tg.AuthSendCodeRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	phone, err := validPhone(r.PhoneNumber)
	if err != nil {
		return nil, err
	}
	// With several DCs, a number is logged in on its own (transfer.go).
	if err := s.phoneMigrate(c, phone); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := s.sendCodeFaults(phone); err != nil {
		return nil, err
	}
	hash := strconv.FormatUint(w.rng.Uint64(), 16)
	w.codes[hash] = phone
	w.cl().codeSent[hash] = time.Now()
	return &tg.AuthSentCode{
		Type:          &tg.AuthSentCodeTypeApp{Length: len(s.opts.LoginCode)},
		PhoneCodeHash: hash,
	}, nil
}

// authSignIn answers auth.signIn
// (https://core.telegram.org/method/auth.signIn): PHONE_CODE_INVALID for a
// wrong code; PHONE_CODE_EXPIRED for a hash this server did not hand out or
// given for another number (a guess: Telegram's docs name no error for
// that), and for a code older than Options.LoginCodeTTL. With 2FA it answers SESSION_PASSWORD_NEEDED (401) and waits for
// auth.checkPassword, as https://core.telegram.org/api/srp describes and
// gotd's auth.Client.SignIn expects.
func (s *Server) authSignIn(c *call) (bin.Encoder, error) {
	var r tg.AuthSignInRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	phone, ok := w.codes[r.PhoneCodeHash]
	if !ok || phone != normPhone(r.PhoneNumber) {
		return nil, tgerr.New(400, "PHONE_CODE_EXPIRED")
	}
	if s.codeExpired(r.PhoneCodeHash, time.Now()) {
		delete(w.codes, r.PhoneCodeHash)
		return nil, tgerr.New(400, "PHONE_CODE_EXPIRED")
	}
	if r.PhoneCode != s.opts.LoginCode {
		return nil, tgerr.New(400, "PHONE_CODE_INVALID")
	}
	delete(w.codes, r.PhoneCodeHash)
	u := w.byPhone[phone]
	if u == nil {
		// Every number has an account here: sign-up is not part of the sandbox.
		w.nextID++
		u = &User{ID: w.nextID, AccessHash: accessHash(w.nextID), FirstName: "Me", LastName: "Sandbox", Phone: phone}
		w.add(u)
	}
	if w.srp != nil {
		w.awaiting2F[c.key] = u.ID
		return nil, tgerr.New(401, "SESSION_PASSWORD_NEEDED")
	}
	w.sessions[c.key] = u.ID
	return &tg.AuthAuthorization{User: u.tg(true)}, nil
}

// accountGetPassword answers account.getPassword
// (https://core.telegram.org/method/account.getPassword): without 2FA, no
// current algorithm; with it, the SRP parameters and a fresh challenge
// (srp_B, srp_id) as https://core.telegram.org/api/srp lays them out.
func (s *Server) accountGetPassword(c *call) (bin.Encoder, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.srp == nil {
		return &tg.AccountPassword{
			NewAlgo:       &tg.PasswordKdfAlgoUnknown{},
			NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{},
			SecureRandom:  make([]byte, 32),
		}, nil
	}
	id := int64(w.rng.Uint64() >> 1)
	ch, err := w.srp.challenge(id)
	if err != nil {
		return nil, err
	}
	w.challenges[id] = ch
	return &tg.AccountPassword{
		HasPassword:   true,
		CurrentAlgo:   w.srp.algo(),
		SRPB:          ch.gb,
		SRPID:         id,
		NewAlgo:       w.srp.algo(),
		NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{},
		SecureRandom:  make([]byte, 32),
	}, nil
}

// authCheckPassword answers auth.checkPassword
// (https://core.telegram.org/method/auth.checkPassword): the SRP proof for
// the challenge srp_id names, each challenge used once. PASSWORD_HASH_INVALID
// and SRP_ID_INVALID are from gotd's schema docs; PASSWORD_HASH_INVALID for a
// key that did not sign in first is a guess.
func (s *Server) authCheckPassword(c *call) (bin.Encoder, error) {
	var r tg.AuthCheckPasswordRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	uid, ok := w.awaiting2F[c.key]
	if !ok || w.srp == nil {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	in, ok := r.Password.(*tg.InputCheckPasswordSRP)
	if !ok {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	ch := w.challenges[in.SRPID]
	if ch == nil {
		return nil, tgerr.New(400, "SRP_ID_INVALID")
	}
	delete(w.challenges, in.SRPID)
	if !w.srp.check(ch, in.A, in.M1) {
		w.wrongPassword(uid)
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	delete(w.awaiting2F, c.key)
	w.sessions[c.key] = uid
	return &tg.AuthAuthorization{User: w.users[uid].tg(true)}, nil
}

// botTokenRe is the shape of Telegram's bot tokens: "<bot id>:<secret>"
// (https://core.telegram.org/bots/api#authorizing-your-bot); the secret's
// alphabet and minimum length are a guess.
var botTokenRe = regexp.MustCompile(`^([0-9]{1,15}):([A-Za-z0-9_-]{8,})$`)

// authImportBot answers auth.importBotAuthorization
// (https://core.telegram.org/method/auth.importBotAuthorization): any token
// of the right shape creates its bot on first use (the sandbox has no
// BotFather). ACCESS_TOKEN_INVALID is from gotd's schema docs;
// ACCESS_TOKEN_EXPIRED for a known bot id with another secret (a revoked
// token) is a guess, and answered as 401 where the docs say 400. With
// several DCs, a bot that lives on another one gets USER_MIGRATE_X first
// (transfer.go).
func (s *Server) authImportBot(c *call) (bin.Encoder, error) {
	var r tg.AuthImportBotAuthorizationRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	m := botTokenRe.FindStringSubmatch(r.BotAuthToken)
	if m == nil {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || id <= 0 {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	if err := s.botMigrate(c, id); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if secret, ok := w.bots[id]; ok && secret != m[2] {
		return nil, tgerr.New(401, "ACCESS_TOKEN_EXPIRED")
	}
	u := w.users[id]
	if u == nil {
		w.bots[id] = m[2]
		u = &User{ID: id, AccessHash: accessHash(id), FirstName: "Sandbox Bot", Username: fmt.Sprintf("sandbox%d_bot", id), Bot: true}
		w.add(u)
	} else if !u.Bot {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	w.sessions[c.key] = u.ID
	return &tg.AuthAuthorization{User: u.tg(true)}, nil
}

// authLogOut answers auth.logOut
// (https://core.telegram.org/method/auth.logOut): the key is no longer
// logged in, so it gets AUTH_KEY_UNREGISTERED from then on.
func (s *Server) authLogOut(c *call) (bin.Encoder, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, c.key)
	return &tg.AuthLoggedOut{}, nil
}
