package telegram

import (
	"context"
	"errors"

	"github.com/gotd/td/session"

	"github.com/broadcast-cli/broadcast/internal/store"
)

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
	return b, err
}

func (s sessionStorage) StoreSession(_ context.Context, data []byte) error {
	return s.st.StoreSession(data)
}
