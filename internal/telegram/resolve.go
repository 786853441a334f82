package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gotd/td/telegram/message/peer"
	"github.com/gotd/td/tg"

	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// KindSelf marks the account's own chat (Saved Messages).
const KindSelf = "self"

// ErrUnknownID: a numeric id that the peer cache does not know. Telegram
// needs an access hash to message a user, and only a resolve gives one.
var ErrUnknownID = errors.New("this numeric id is not in the peer cache")

// Resolve turns a recipient into a peer. Usernames and phones come from the
// persistent cache when they can: contacts.resolveUsername is limited hard
// and without notice, so a daily job must not call it again for the same name.
func (c *Client) Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	st := c.opts.Store
	switch r.Kind {
	case recipient.Self:
		a, err := st.LoadAccount()
		if err != nil {
			return store.Peer{}, fmt.Errorf("load account: %w", err)
		}
		return store.Peer{Kind: KindSelf, ID: a.ID, Username: a.Username, FirstName: a.FirstName, LastName: a.LastName}, nil
	case recipient.ID:
		p, ok, err := st.LookupPeer(r.Key)
		if err != nil {
			return store.Peer{}, err
		}
		if !ok {
			return store.Peer{}, ErrUnknownID
		}
		return p, nil
	}
	if p, ok, err := st.LookupPeer(r.Key); err != nil {
		return store.Peer{}, err
	} else if ok {
		c.decisions().Debug("resolved from the peer cache", "recipient", r.Input, "peer_id", p.ID)
		return p, nil
	}
	c.decisions().Debug("resolving with the server", "recipient", r.Input)
	p, err := c.resolveRemote(ctx, r)
	if err != nil {
		return store.Peer{}, classify(err)
	}
	if err := st.SavePeer(r.Key, p); err != nil {
		return store.Peer{}, err
	}
	return p, nil
}

// Refresh forgets a cached peer and resolves it again: for when Telegram
// rejects the cached access hash (PEER_ID_INVALID).
func (c *Client) Refresh(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	if r.Kind != recipient.Username && r.Kind != recipient.Phone {
		return store.Peer{}, errors.New("only usernames and phones can be resolved again")
	}
	if err := c.opts.Store.ForgetPeer(r.Key); err != nil {
		return store.Peer{}, err
	}
	return c.Resolve(ctx, r)
}

func (c *Client) resolveRemote(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	var (
		res *tg.ContactsResolvedPeer
		err error
	)
	switch r.Kind {
	case recipient.Username:
		res, err = c.api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: r.Value})
	case recipient.Phone:
		res, err = c.api.ContactsResolvePhone(ctx, strings.TrimPrefix(r.Value, "+"))
	default:
		return store.Peer{}, fmt.Errorf("cannot resolve %s", r.Input)
	}
	if err != nil {
		return store.Peer{}, err
	}
	// gotd's peer.Entities indexes the users and chats that came with the
	// answer, so the peer's access hash and names are taken from there.
	ents := peer.EntitiesFromResult(res)
	now := time.Now().UTC()
	switch p := res.Peer.(type) {
	case *tg.PeerUser:
		u, ok := ents.User(p.UserID)
		if !ok {
			return store.Peer{}, fmt.Errorf("resolve %s: user %d missing from the answer", r.Input, p.UserID)
		}
		return store.Peer{Kind: store.KindUser, ID: u.ID, AccessHash: u.AccessHash, Username: u.Username,
			FirstName: u.FirstName, LastName: u.LastName, Phone: u.Phone, ResolvedAt: now}, nil
	case *tg.PeerChannel:
		ch, ok := ents.Channel(p.ChannelID)
		if !ok {
			return store.Peer{}, fmt.Errorf("resolve %s: channel %d missing from the answer", r.Input, p.ChannelID)
		}
		return store.Peer{Kind: store.KindChannel, ID: ch.ID, AccessHash: ch.AccessHash, Username: ch.Username,
			FirstName: ch.Title, ResolvedAt: now}, nil
	case *tg.PeerChat:
		ch, ok := ents.Chat(p.ChatID)
		if !ok {
			return store.Peer{}, fmt.Errorf("resolve %s: chat %d missing from the answer", r.Input, p.ChatID)
		}
		return store.Peer{Kind: store.KindChat, ID: ch.ID, FirstName: ch.Title, ResolvedAt: now}, nil
	default:
		return store.Peer{}, fmt.Errorf("resolve %s: unexpected peer %T", r.Input, res.Peer)
	}
}

// inputPeer is the destination of a send.
func inputPeer(p store.Peer) tg.InputPeerClass {
	switch p.Kind {
	case KindSelf:
		return &tg.InputPeerSelf{}
	case store.KindChannel:
		return &tg.InputPeerChannel{ChannelID: p.ID, AccessHash: p.AccessHash}
	case store.KindChat:
		return &tg.InputPeerChat{ChatID: p.ID}
	default:
		return &tg.InputPeerUser{UserID: p.ID, AccessHash: p.AccessHash}
	}
}
