package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
// A forum topic's chat must be a forum (checkTopic).
func (c *Client) Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	p, err := c.resolve(ctx, r)
	if err != nil || r.Topic == 0 {
		return p, err
	}
	return c.checkTopic(ctx, r, p)
}

func (c *Client) resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	st := c.opts.Store
	switch r.Kind {
	case recipient.Self:
		a, err := st.LoadAccount()
		if err != nil {
			return store.Peer{}, fmt.Errorf("load account: %w", err)
		}
		return store.Peer{Kind: KindSelf, ID: a.ID, Username: a.Username, FirstName: a.FirstName, LastName: a.LastName}, nil
	case recipient.ID:
		p, ok, err := st.LookupPeer(r.PeerKey())
		if err != nil {
			return store.Peer{}, err
		}
		id, _ := strconv.ParseInt(r.Value, 10, 64)
		switch {
		case (ok && p.Kind == store.KindChat) || (!ok && store.KindOfID(id) == store.KindChat):
			// A basic group needs no access hash, so one not cached yet
			// (a bot cannot list its chats) is asked for by id; and a
			// cached one may have become a supergroup since.
			return c.resolveChat(ctx, r, id)
		case !ok:
			return store.Peer{}, ErrUnknownID
		}
		return p, c.indexChat(r, p)
	}
	if p, ok, err := st.LookupPeer(r.PeerKey()); err != nil {
		return store.Peer{}, err
	} else if ok {
		c.decisions().Debug("resolved from the peer cache", "recipient", r.Input, "peer_id", p.ID)
		if p.Kind == store.KindChat {
			return c.resolveChat(ctx, r, p.ID)
		}
		return p, c.indexChat(r, p)
	}
	c.decisions().Debug("resolving with the server", "recipient", r.Input)
	p, err := c.resolveRemote(ctx, r)
	if err != nil {
		return store.Peer{}, classify(err)
	}
	if err := st.SavePeer(r.PeerKey(), p); err != nil {
		return store.Peer{}, err
	}
	return p, nil
}

// indexChat makes sure a chat cached before its id was the Bot API's
// (store/chats.go) is also cached under the id it has now, which is what
// the journal names it by, for retract and edit.
func (c *Client) indexChat(r recipient.Recipient, p store.Peer) error {
	if !IsChat(p) {
		return nil
	}
	if _, ok, err := c.opts.Store.LookupPeer(cacheKey(p)); err != nil || ok {
		return err
	}
	return c.opts.Store.SavePeer(r.PeerKey(), p)
}

// Refresh forgets a cached peer and resolves it again: for when Telegram
// rejects the cached access hash (PEER_ID_INVALID).
func (c *Client) Refresh(ctx context.Context, r recipient.Recipient) (store.Peer, error) {
	if r.Kind != recipient.Username && r.Kind != recipient.Phone {
		return store.Peer{}, errors.New("only usernames and phones can be resolved again")
	}
	if err := c.opts.Store.ForgetPeer(r.PeerKey()); err != nil {
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
		return channelPeer(ch, now), nil
	case *tg.PeerChat:
		ch, ok := ents.Chat(p.ChatID)
		if !ok {
			return store.Peer{}, fmt.Errorf("resolve %s: chat %d missing from the answer", r.Input, p.ChatID)
		}
		return chatPeer(ch, now), nil
	default:
		return store.Peer{}, fmt.Errorf("resolve %s: unexpected peer %T", r.Input, res.Peer)
	}
}

// inputPeer is the destination of a send: a chat by its own id, not the
// Bot API id the cache keeps (store/chats.go).
func inputPeer(p store.Peer) tg.InputPeerClass {
	switch p.Kind {
	case KindSelf:
		return &tg.InputPeerSelf{}
	case store.KindChannel:
		return &tg.InputPeerChannel{ChannelID: p.RawID(), AccessHash: p.AccessHash}
	case store.KindChat:
		return &tg.InputPeerChat{ChatID: p.RawID()}
	default:
		return &tg.InputPeerUser{UserID: p.ID, AccessHash: p.AccessHash}
	}
}
