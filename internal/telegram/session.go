package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gotd/td/session"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// ErrSessionDamaged: the saved session cannot be read. It is left as it is
// (gotd would otherwise replace it with a new, unauthorised key).
var ErrSessionDamaged = errors.New("the saved session is damaged")

// sessionStorage adapts the state database to gotd's session.Storage, so the
// auth key lives in the one 0600 database instead of gotd's non-atomic file.
type sessionStorage struct {
	st *store.Store
}

func (s sessionStorage) LoadSession(context.Context) ([]byte, error) {
	b, err := s.st.LoadSession()
	if errors.Is(err, store.ErrNotFound) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := validSession(b); err != nil {
		return nil, fmt.Errorf("%w (in %s): %v", ErrSessionDamaged, s.st.Path(), err)
	}
	return b, nil
}

func (s sessionStorage) StoreSession(_ context.Context, data []byte) error {
	return s.st.StoreSession(data)
}

// validSession checks the blob is a gotd session (format version 1) with a
// 2048-bit auth key, so a damaged one is reported instead of replaced.
func validSession(b []byte) error {
	var v struct {
		Version int
		Data    struct {
			AuthKey []byte
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("not a session")
	}
	if v.Version != 1 {
		return fmt.Errorf("unknown session format %d", v.Version)
	}
	if len(v.Data.AuthKey) != 256 {
		return errors.New("no auth key")
	}
	return nil
}

// CheckSession says whether st holds a usable session without connecting:
// ErrNotLoggedIn when there is none, ErrSessionDamaged when it cannot be
// read. whoami answers from it, so it never calls a damaged state fine.
func CheckSession(st *store.Store) error {
	_, err := sessionStorage{st: st}.LoadSession(context.Background())
	if errors.Is(err, session.ErrNotFound) {
		return ErrNotLoggedIn
	}
	return err
}
