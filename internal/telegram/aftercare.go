package telegram

// aftercare.go acts on messages already sent: deleting them for both sides,
// editing their text, reading whether they were read, and the time limits
// Telegram puts on the first two.

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// DeleteMax is the most message ids one messages.deleteMessages takes, and
// PeerDialogsMax the most peers one messages.getPeerDialogs takes (both 100:
// docs/TELEGRAM.md "After sending").
const (
	DeleteMax      = 100
	PeerDialogsMax = 100
)

// Limits are how long after sending Telegram lets this account delete a
// private-chat message for both sides (revoke_pm_time_limit) and edit it
// (edit_time_limit). Zero means no limit.
type Limits struct {
	Revoke time.Duration
	Edit   time.Duration
}

// Limits asks Telegram (help.getConfig) for this account's limits. They
// differ between users and bots, so they are read after login rather than
// taken from the config gotd fetched when it connected.
func (c *Client) Limits(ctx context.Context) (Limits, error) {
	cfg, err := c.api.HelpGetConfig(ctx)
	if err != nil {
		return Limits{}, fmt.Errorf("read Telegram's limits: %w", classify(err))
	}
	return Limits{Revoke: limit(cfg.RevokePmTimeLimit), Edit: limit(cfg.EditTimeLimit)}, nil
}

// limit turns seconds into a duration; Telegram says "no limit" with the
// largest int32.
func limit(seconds int) time.Duration {
	if seconds <= 0 || seconds >= math.MaxInt32 {
		return 0
	}
	return time.Duration(seconds) * time.Second
}

// Delete deletes messages ids for every side in one call and returns how
// many Telegram deleted: ids already gone are ignored by Telegram, so a
// repeated call is harmless. With a zero channel the ids are the account's
// own (private chats and basic groups number messages per account, so one
// messages.deleteMessages with revoke spans recipients); a channel or
// supergroup numbers its messages itself, so its ids go in
// channels.deleteMessages for that channel (which deletes for everyone).
func (c *Client) Delete(ctx context.Context, channel store.Peer, ids []int) (int, error) {
	if len(ids) > DeleteMax {
		return 0, fmt.Errorf("delete: %d ids, at most %d a call", len(ids), DeleteMax)
	}
	if channel.Kind == store.KindChannel {
		res, err := c.api.ChannelsDeleteMessages(ctx, &tg.ChannelsDeleteMessagesRequest{
			Channel: &tg.InputChannel{ChannelID: channel.RawID(), AccessHash: channel.AccessHash}, ID: ids,
		})
		if err != nil {
			return 0, classify(err)
		}
		return res.PtsCount, nil
	}
	res, err := c.api.MessagesDeleteMessages(ctx, &tg.MessagesDeleteMessagesRequest{Revoke: true, ID: ids})
	if err != nil {
		return 0, classify(err)
	}
	return res.PtsCount, nil
}

// Edit changes the messages ids sent to p (one per part) to m as p gets it:
// a template is filled again for p, a split text goes part by part. An edit
// that changes nothing (MESSAGE_NOT_MODIFIED) is done, so an interrupted
// edit can be repeated.
func (c *Client) Edit(ctx context.Context, p store.Peer, m *Message, ids []int) error {
	r, err := m.forPeer(p)
	if err != nil {
		return &RPCError{Type: "MESSAGE_TOO_LONG", Detail: err.Error(), Err: err}
	}
	if len(r.parts) != len(ids) && !m.Content.Caption {
		return &RPCError{Type: "PARTS_MISMATCH", Detail: fmt.Sprintf("the new text is %d messages for this recipient, the broadcast sent %d", len(r.parts), len(ids))}
	}
	for i, pt := range r.parts {
		// An album's caption is on its first message.
		_, err := c.api.MessagesEditMessage(ctx, &tg.MessagesEditMessageRequest{
			Peer: inputPeer(p), ID: ids[i], Message: pt.text, Entities: pt.entities, NoWebpage: m.Content.NoPreview,
		})
		if tgerr.Is(err, "MESSAGE_NOT_MODIFIED") {
			continue
		}
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// ReadUpTo returns, per peer id, the highest id of the account's messages
// the peer has read (in a group or channel: someone in it has read) (read_outbox_max_id of messages.getPeerDialogs), at most
// PeerDialogsMax peers a call. Bots may not call it: the error is an
// *RPCError of type BOT_METHOD_INVALID.
func (c *Client) ReadUpTo(ctx context.Context, peers []store.Peer) (map[int64]int, error) {
	read := map[int64]int{}
	for start := 0; start < len(peers); start += PeerDialogsMax {
		chunk := peers[start:min(len(peers), start+PeerDialogsMax)]
		in := make([]tg.InputDialogPeerClass, len(chunk))
		for i, p := range chunk {
			in[i] = &tg.InputDialogPeer{Peer: inputPeer(p)}
		}
		res, err := c.api.MessagesGetPeerDialogs(ctx, in)
		if err != nil {
			return nil, classify(err)
		}
		for _, d := range res.Dialogs {
			dl, ok := d.(*tg.Dialog)
			if !ok {
				continue
			}
			// Keyed as the journal keys peers (store/chats.go).
			switch p := dl.Peer.(type) {
			case *tg.PeerUser:
				read[p.UserID] = dl.ReadOutboxMaxID
			case *tg.PeerChat:
				read[store.ChatPeerID(p.ChatID)] = dl.ReadOutboxMaxID
			case *tg.PeerChannel:
				read[store.ChannelPeerID(p.ChannelID)] = dl.ReadOutboxMaxID
			}
		}
	}
	return read, nil
}

// MessageEditor edits sent messages to one prepared message.
type MessageEditor struct {
	c *Client
	m *Message
}

// Editor binds the new text of an edit to the client.
func (c *Client) Editor(m *Message) *MessageEditor { return &MessageEditor{c: c, m: m} }

// Edit edits the messages ids sent to p.
func (e *MessageEditor) Edit(ctx context.Context, p store.Peer, ids []int) error {
	return e.c.Edit(ctx, p, e.m, ids)
}

// PartsFor is how many messages m is for p (a template is filled for p).
func (m *Message) PartsFor(p store.Peer) (int, error) {
	r, err := m.forPeer(p)
	if err != nil {
		return 0, err
	}
	return len(r.parts), nil
}
