package telegram

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// sessionPrefix starts every exported session string; the digit is the
// format's version, so a later format can be told apart and refused clearly.
const sessionPrefix = "bcs1."

// ExportedSession is a logged-in session as it moves to another machine:
// the MTProto session (the auth key: full access to the account), the
// account record, and the server it belongs to. Its String method does not
// show the secret; Encode does.
type ExportedSession struct {
	// Server is the account record's server: an address, "test" or
	// "telegram". The session only works there.
	Server  string        `json:"server"`
	DC      int           `json:"dc"`
	Account store.Account `json:"account"`
	Session []byte        `json:"session"`
}

// SessionStringError is input that is not a session string this version
// can import. It never repeats the input.
type SessionStringError struct {
	Reason string
}

func (e *SessionStringError) Error() string { return "not a valid session string: " + e.Reason }

// ExportSession reads the logged-in session from the store.
func ExportSession(st *store.Store) (ExportedSession, error) {
	a, err := st.LoadAccount()
	if errors.Is(err, store.ErrNotFound) {
		return ExportedSession{}, ErrNotLoggedIn
	}
	if err != nil {
		return ExportedSession{}, err
	}
	data, err := st.LoadSession()
	if errors.Is(err, store.ErrNotFound) {
		return ExportedSession{}, ErrNotLoggedIn
	}
	if err != nil {
		return ExportedSession{}, err
	}
	d, err := checkSession(data)
	if err != nil {
		return ExportedSession{}, fmt.Errorf("the stored session: %w", err)
	}
	return ExportedSession{Server: a.Server, DC: d.DC, Account: a, Session: data}, nil
}

// Encode is the session string: the prefix and the base64url of a JSON
// object. It is a secret.
func (e ExportedSession) Encode() string {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return sessionPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// String describes the session without its secret, so that printing or
// logging one by mistake gives nothing away.
func (e ExportedSession) String() string {
	return fmt.Sprintf("session of account %d on %s", e.Account.ID, e.Server)
}

// ParseSession reads a session string made by Encode. Whitespace around it
// (a trailing newline) is fine; anything else wrong is a *SessionStringError.
func ParseSession(s string) (ExportedSession, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return ExportedSession{}, &SessionStringError{Reason: "it is empty"}
	case !strings.HasPrefix(s, sessionPrefix):
		if v, _, ok := strings.Cut(s, "."); ok && strings.HasPrefix(v, "bcs") && !strings.ContainsAny(v, " \t\r\n") {
			return ExportedSession{}, &SessionStringError{Reason: fmt.Sprintf("format %q is not one this version of broadcast reads", v)}
		}
		return ExportedSession{}, &SessionStringError{Reason: "it should start with " + sessionPrefix}
	case strings.ContainsAny(s, " \t\r\n"):
		return ExportedSession{}, &SessionStringError{Reason: "it should be one line with no spaces"}
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, sessionPrefix))
	if err != nil {
		return ExportedSession{}, &SessionStringError{Reason: "it is damaged (not base64url)"}
	}
	var e ExportedSession
	if err := json.Unmarshal(b, &e); err != nil {
		return ExportedSession{}, &SessionStringError{Reason: "it is damaged (not the expected JSON)"}
	}
	switch {
	case e.Account.ID == 0:
		return ExportedSession{}, &SessionStringError{Reason: "it names no account"}
	case e.Server == "":
		return ExportedSession{}, &SessionStringError{Reason: "it names no server"}
	}
	if _, err := checkSession(e.Session); err != nil {
		return ExportedSession{}, &SessionStringError{Reason: "the session in it " + err.Error()}
	}
	return e, nil
}

// Save writes the session and the account into the store, together.
func (e ExportedSession) Save(st *store.Store) error {
	return st.StoreLogin(e.Session, e.Account)
}

// checkSession checks gotd's session JSON the way gotd will read it: the
// version it writes, and an auth key that matches its id.
func checkSession(data []byte) (session.Data, error) {
	var v struct {
		Version int
		Data    session.Data
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return session.Data{}, errors.New("is not gotd session data")
	}
	if v.Version != 1 {
		return session.Data{}, fmt.Errorf("has version %d, not 1", v.Version)
	}
	var key crypto.AuthKey
	if len(v.Data.AuthKey) != len(key.Value) || len(v.Data.AuthKeyID) != len(key.ID) {
		return session.Data{}, errors.New("has no auth key")
	}
	copy(key.Value[:], v.Data.AuthKey)
	copy(key.ID[:], v.Data.AuthKeyID)
	if key.Value.ID() != key.ID {
		return session.Data{}, errors.New("has a damaged auth key")
	}
	return v.Data, nil
}
