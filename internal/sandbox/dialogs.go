package sandbox

// dialogs.go owns messages.getPeerDialogs: the caller's dialog with each
// peer it names, and in it how far the peer has read (Options.ReadAfter,
// Options.NeverRead).

import (
	"slices"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// getPeerDialogs answers messages.getPeerDialogs
// (https://core.telegram.org/method/messages.getPeerDialogs) with
// messages.peerDialogs: one dialog per distinct peer (duplicates answered
// once: a guess), with the top messages, the users and the caller's
// updates state. read_outbox_max_id is the highest id of the caller's
// messages to the peer that the peer has read: ids at or below it are read
// (tdlib/td#903, Telethon#451; shared/TELEGRAM.md "Read state"). A
// recipient reads each message once it is Options.ReadAfter old, unless it
// is in Options.NeverRead or the message was deleted for both sides first;
// with ReadAfter 0 nobody reads. A message the sender deleted for itself
// only is still read by its recipient, so read_outbox_max_id can pass
// top_message (a guess). A peer with no messages gets a dialog with
// top_message 0 (a guess). A group or channel's dialog is chatDialog's
// (chats.go). The sandbox has no folders or unread incoming messages:
// read_inbox_max_id and unread_count are 0.
//
// Errors: bots cannot call it, BOT_METHOD_INVALID (MadelineProto's docs
// "Can bots use this method: NO"; the error bots get for user-only methods,
// e.g. Pyrogram's "[400 BOT_METHOD_INVALID] - The method can't be used by
// bots"); INPUT_PEERS_EMPTY for no peers and PEER_ID_INVALID for one it
// cannot name, failing the whole call (gotd's schema docs; MadelineProto
// issue danog/MadelineProtoDocs#38 reports one bad peer failing the call).
// More than maxIDsPerCall peers answer LIMIT_INVALID: TDLib never asks for
// more than 100 (DialogFilterManager.cpp, GetDialogsQuery), what Telegram
// answers then is a guess.
func (s *Server) getPeerDialogs(c *call) (bin.Encoder, error) {
	var r tg.MessagesGetPeerDialogsRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if c.self.Bot {
		return nil, tgerr.New(400, "BOT_METHOD_INVALID")
	}
	switch {
	case len(r.Peers) == 0:
		return nil, tgerr.New(400, "INPUT_PEERS_EMPTY")
	case len(r.Peers) > maxIDsPerCall:
		return nil, tgerr.New(400, "LIMIT_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	var peers []*User
	var chats []*Chat
	seen := map[int64]bool{}
	for _, p := range r.Peers {
		dp, ok := p.(*tg.InputDialogPeer)
		if !ok {
			return nil, errPeerIDInvalid
		}
		if isChatPeer(dp.Peer) {
			ch, err := w.chat(dp.Peer)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(chats, ch) {
				chats = append(chats, ch)
			}
			continue
		}
		u, err := w.inputPeer(c.self, dp.Peer)
		if err != nil {
			return nil, err
		}
		if !seen[u.ID] {
			seen[u.ID] = true
			peers = append(peers, u)
		}
	}
	marks := w.dialogMarks(w.account(c.self.ID), seen, now)
	out := &tg.MessagesPeerDialogs{
		Dialogs:  []tg.DialogClass{},
		Messages: []tg.MessageClass{},
		Chats:    []tg.ChatClass{},
		Users:    []tg.UserClass{c.self.tg(true)},
		State:    w.state(c.self, now),
	}
	for _, u := range peers {
		mk := marks[u.ID]
		out.Dialogs = append(out.Dialogs, &tg.Dialog{
			Peer:            &tg.PeerUser{UserID: u.ID},
			TopMessage:      mk.top,
			ReadOutboxMaxID: mk.read,
			NotifySettings:  tg.PeerNotifySettings{},
		})
		if m := w.find(u.ID, c.self.ID, mk.top); m != nil {
			out.Messages = append(out.Messages, w.tgMessage(m, s.opts.DC))
		}
		if u.ID != c.self.ID {
			out.Users = append(out.Users, u.tg(false))
		}
	}
	for _, ch := range chats {
		d, top := w.chatDialog(c.self, ch, now)
		out.Dialogs = append(out.Dialogs, d)
		if top != nil {
			out.Messages = append(out.Messages, w.tgMessage(top, s.opts.DC))
		}
		out.Chats = append(out.Chats, ch.tg())
	}
	return out, nil
}

// dialogMark is where a dialog stands: its newest message the sender still
// has, and the newest the recipient has read.
type dialogMark struct {
	top, read int
}

// dialogMarks walks a's messages once for the dialogs with the peers in
// want. Call with w.mu held.
func (w *world) dialogMarks(a *account, want map[int64]bool, now time.Time) map[int64]dialogMark {
	marks := map[int64]dialogMark{}
	after := w.opts.ReadAfter
	for id, om := range a.out {
		if !want[om.to] {
			continue
		}
		mk := marks[om.to]
		if om.visible() && id > mk.top {
			mk.top = id
		}
		if after > 0 && !w.neverRead[om.to] && id > mk.read {
			readAt := om.date.Add(after)
			if !readAt.After(now) && (om.deleted.IsZero() || !readAt.After(om.deleted)) {
				mk.read = id
			}
		}
		marks[om.to] = mk
	}
	return marks
}

// tgMessage is an inbox message as its sender sees it, without entities:
// the inbox keeps only their kind.
func (w *world) tgMessage(m *Message, dc int) *tg.Message {
	msg := &tg.Message{
		Out:     true,
		ID:      m.ID,
		FromID:  &tg.PeerUser{UserID: m.FromID},
		PeerID:  peerOf(m.ToID),
		Date:    int(m.Date.Unix()),
		Message: m.Text,
		Silent:  m.Silent,
	}
	if m.EditDate != nil {
		msg.EditDate = int(m.EditDate.Unix())
	}
	if m.Media != nil {
		if f := w.files[m.Media.ID]; f != nil {
			msg.Media = f.tg(m.Date, dc)
		}
	}
	if m.GroupedID != 0 {
		msg.GroupedID = m.GroupedID
	}
	if m.Topic != 0 {
		msg.ReplyTo = &tg.MessageReplyHeader{ForumTopic: true, ReplyToMsgID: m.Topic, ReplyToTopID: m.Topic}
	} else if m.ReplyTo != 0 {
		msg.ReplyTo = &tg.MessageReplyHeader{ReplyToMsgID: m.ReplyTo}
	}
	return msg
}
