package telegram

import (
	"context"
	"errors"
	"fmt"

	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Messenger sends one prepared message to resolved recipients; it is what
// the delivery package drives.
type Messenger struct {
	c *Client
	m *Message
}

// Messenger binds a prepared message to the client.
func (c *Client) Messenger(m *Message) *Messenger { return &Messenger{c: c, m: m} }

// Resolve resolves r through the peer cache.
func (s *Messenger) Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	p, err := s.c.Resolve(ctx, r)
	if errors.Is(err, ErrUnknownID) {
		return store.Peer{}, &RPCError{Type: "PEER_ID_INVALID", Detail: "this numeric id is not in the peer cache; send to the @username or phone once first", Err: err}
	}
	return p, err
}

// Send sends the message to p. When Telegram rejects a cached access hash
// (PEER_ID_INVALID), the peer is resolved again once and the send repeated
// with the same random_id.
func (s *Messenger) Send(ctx context.Context, r recipient.Recipient, p store.Peer, randomID func(part int) int64) ([]int, error) {
	ids, err := s.c.Send(ctx, p, s.m, randomID)
	var rpc *RPCError
	if !errors.As(err, &rpc) || rpc.Type != "PEER_ID_INVALID" || (r.Kind != recipient.Username && r.Kind != recipient.Phone) {
		return ids, err
	}
	fresh, rerr := s.c.Refresh(ctx, r)
	if rerr != nil {
		return nil, rerr
	}
	if fresh.ID != p.ID {
		// The name now belongs to someone else: not the person this
		// broadcast started sending to.
		return nil, &RPCError{Type: "PEER_ID_INVALID", Detail: fmt.Sprintf("%s now belongs to a different user", r.Input), Err: err}
	}
	return s.c.Send(ctx, fresh, s.m, randomID)
}
