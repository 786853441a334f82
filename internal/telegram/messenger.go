package telegram

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Messenger sends one prepared message to resolved recipients; it is what
// the delivery package drives. Its fields steer the per-chat pacing of
// groups and channels (pacing.go) and are set before the first Send.
type Messenger struct {
	c *Client
	m *Message

	// MaxChatWait is the longest slow mode wait one chat's message sits
	// out (fanout.NeverWait: none; zero: fanout.DefaultMaxFloodWait).
	// Longer ones fail that recipient, as flood waits do.
	MaxChatWait time.Duration
	// OnChatWait hears that one chat's next message waits; it may be
	// called from several goroutines at once.
	OnChatWait func(ChatWait)
	// Interrupt, when it closes, ends a wait between two messages to a
	// chat: the engine's sends run on a context that is never cancelled.
	Interrupt <-chan struct{}

	pacer *chatPacer
}

// Messenger binds a prepared message to the client.
func (c *Client) Messenger(m *Message) *Messenger {
	return &Messenger{c: c, m: m, pacer: newChatPacer()}
}

// Resolve resolves r through the peer cache.
func (s *Messenger) Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	p, err := s.c.Resolve(ctx, r)
	if errors.Is(err, ErrUnknownID) {
		detail := "this numeric id is not in the peer cache; send to the @username or phone once first"
		if r.Kind == recipient.ID && r.Value != "" && r.Value[0] == '-' {
			detail = "this chat is not in the peer cache; list the account's chats once (broadcast chats) so it is"
		}
		return store.Peer{}, &RPCError{Type: "PEER_ID_INVALID", Detail: detail, Err: err}
	}
	return p, err
}

// Send sends the message to p (to r's topic, when it names one). When
// Telegram rejects a cached access hash (PEER_ID_INVALID), the peer is
// resolved again once and the send repeated with the same random_id.
func (s *Messenger) Send(ctx context.Context, r recipient.Recipient, p store.Peer, randomID func(part int) int64) ([]int, error) {
	pc := s.pacing(r)
	ids, err := s.c.send(ctx, p, r.Topic, s.m, randomID, pc)
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
	return s.c.send(ctx, fresh, r.Topic, s.m, randomID, pc)
}

// pacing is r's per-chat pacing for this broadcast.
func (s *Messenger) pacing(r recipient.Recipient) *pacing {
	maxWait := s.MaxChatWait
	switch {
	case maxWait == fanout.NeverWait:
		maxWait = -1
	case maxWait <= 0:
		maxWait = fanout.DefaultMaxFloodWait
	}
	return &pacing{pacer: s.pacer, recipient: r.Input, maxWait: maxWait, onWait: s.OnChatWait, stop: s.Interrupt}
}
