package sandbox

// aftercare.go owns what a sender does to a message after sending it:
// messages.deleteMessages (for both sides or for itself) and
// messages.editMessage (text, entities, a caption), each within the time
// limit help.getConfig announced to the caller (limitsFor in help.go), with
// the change shown in the recipient's inbox and recorded in the inbox log.

import (
	"slices"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// maxIDsPerCall is the most message ids one messages.deleteMessages takes:
// "a server-side limit for one-time forward or delete messages (it is 100
// or a bit more)" (Telegram Desktop's maintainer in
// telegramdesktop/tdesktop#2045); TDLib sends at most 100 a call
// (MessagesManager::delete_messages_on_server, "server side limit").
const maxIDsPerCall = 100

// errMessageIDInvalid is messages.editMessage's answer for a message the
// caller cannot name (gotd's schema docs).
var errMessageIDInvalid = tgerr.New(400, "MESSAGE_ID_INVALID")

// deleteMessages answers messages.deleteMessages
// (https://core.telegram.org/method/messages.deleteMessages) with
// messages.affectedMessages. Ids are the caller's own (per account in
// private chats, shared/TELEGRAM.md "Retract"), so one call spans
// recipients. With revoke a message leaves its recipient's inbox; without
// it only the sender's copy goes and the recipient keeps the message.
//
// Ids that do not name a message the caller still has (never sent, already
// deleted) are skipped and not counted in pts_count, as the Bot API
// documents for its deleteMessages ("If some of the specified messages
// can't be found, they are skipped", https://core.telegram.org/bots/api#deletemessages);
// that MTProto behaves the same is a guess (shared/TELEGRAM.md: no source
// says it is an error). A revoke of a message older than the caller's
// revoke_pm_time_limit answers MESSAGE_DELETE_FORBIDDEN (403, gotd's schema
// docs; TDLib's DeleteMessagesQuery notes it comes "in private chats for
// bots when revoke time limit exceeded"), and then none of the call's
// messages is deleted: that the whole call fails is a guess, which TDLib's
// handling (it restores every message of the failed query) fits. More than
// maxIDsPerCall ids answer LIMIT_INVALID and delete nothing, and an empty
// list answers pts_count 0: both a guess, no source says what Telegram
// does.
func (s *Server) deleteMessages(c *call) (bin.Encoder, error) {
	var r tg.MessagesDeleteMessagesRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if len(r.ID) > maxIDsPerCall {
		return nil, tgerr.New(400, "LIMIT_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	a := w.account(c.self.ID)
	limit := limitsFor(s.opts, c.self).revoke()
	var ids []int
	for _, id := range r.ID {
		om := a.out[id]
		if om == nil || !om.visible() || slices.Contains(ids, id) {
			continue
		}
		if r.Revoke && now.Sub(om.date) > limit {
			return nil, tgerr.New(403, "MESSAGE_DELETE_FORBIDDEN")
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		w.deleteOut(a, id, r.Revoke, now)
	}
	return &tg.MessagesAffectedMessages{Pts: max(1, a.pts), PtsCount: len(ids)}, nil
}

// deleteOut deletes one of a's messages, for both sides (revoke) or for the
// sender only, and logs it. Call with w.mu held.
func (w *world) deleteOut(a *account, id int, revoke bool, now time.Time) {
	om := a.out[id]
	line := deletedLine{Event: eventDeletedForSender, ID: id, FromID: a.userID, ToID: om.to, Date: now.UTC()}
	if m := w.find(om.to, a.userID, id); m != nil {
		line.To = m.To
	}
	if revoke {
		line.Event = eventDeleted
		om.deleted = now.UTC()
		w.removeFromInbox(om.to, a.userID, id)
	} else {
		om.hidden = true
	}
	a.pts++
	w.deleted++
	w.logLine(line)
}

// removeFromInbox takes a message out of its recipient's inbox.
func (w *world) removeFromInbox(to, from int64, id int) {
	w.inbox[to] = slices.DeleteFunc(w.inbox[to], func(m Message) bool { return m.FromID == from && m.ID == id })
}

// editMessage answers messages.editMessage
// (https://core.telegram.org/method/messages.editMessage): the new text (a
// caption, for a message with media) and entities replace the old in the
// recipient's inbox, and the answer is Updates with updateEditMessage
// carrying the edited message, as sends answer updateNewMessage (in a
// channel or supergroup updateEditChannelMessage with the channel's pts,
// as its sends answer updateNewChannelMessage). In a group or channel the
// caller edits its own messages, under the same edit_time_limit (that the
// limit applies there alike is a guess).
//
// Errors, all in gotd's schema docs: PEER_ID_INVALID for a peer the caller
// cannot name; MESSAGE_ID_INVALID for an id that is not the caller's
// message to that peer or was deleted; MESSAGE_EDIT_TIME_EXPIRED once the
// message is as old as the caller's edit_time_limit (TDLib's
// can_edit_message refuses at age >= the limit); MESSAGE_EMPTY,
// MESSAGE_TOO_LONG and MEDIA_CAPTION_TOO_LONG as for sends (prepare in
// messages.go); MESSAGE_NOT_MODIFIED when text and entities are unchanged.
// Which error wins when several apply is a guess. Leaving the message out
// keeps the old text (gotd's message/edit.go leaves an empty text out of
// the request); leaving the entities out with a new text means none, since
// entities belong to the text they come with: both a guess. The sandbox
// does not replace media: a media field answers MEDIA_NEW_INVALID (listed
// in the schema docs; answering it for this is the sandbox's own limit).
func (s *Server) editMessage(c *call) (bin.Encoder, error) {
	var r tg.MessagesEditMessageRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	to, m, err := w.editTarget(c.self, r.Peer, r.ID)
	if err != nil {
		return nil, err
	}
	if r.Media != nil {
		return nil, tgerr.New(400, "MEDIA_NEW_INVALID")
	}
	if now.Sub(m.Date) >= limitsFor(s.opts, c.self).edit() {
		return nil, tgerr.New(400, "MESSAGE_EDIT_TIME_EXPIRED")
	}
	text, ents := m.Text, m.Entities
	newText, hasText := r.GetMessage()
	newEnts, hasEnts := r.GetEntities()
	if hasText {
		text, ents = newText, entities(newEnts)
	} else if hasEnts {
		ents = entities(newEnts)
	}
	caption := m.Media != nil
	n := utf16Len(text)
	switch {
	case !caption && strings.TrimSpace(text) == "":
		return nil, tgerr.New(400, "MESSAGE_EMPTY")
	case !caption && n > MessageLengthMax:
		return nil, tgerr.New(400, "MESSAGE_TOO_LONG")
	case caption && n > CaptionLengthMax:
		return nil, tgerr.New(400, "MEDIA_CAPTION_TOO_LONG")
	case text == m.Text && slices.Equal(ents, m.Entities):
		return nil, tgerr.New(400, "MESSAGE_NOT_MODIFIED")
	}
	edited := now.UTC()
	m.Text, m.Entities, m.EditDate = text, ents, &edited
	if !caption {
		m.NoPreview = r.NoWebpage
	}
	w.edited++
	w.logLine(editedLine{Event: eventEdited, Message: *m})

	// The inbox keeps only each entity's kind: the answer carries the
	// entities as the request gave them.
	msg := w.tgMessage(m, s.opts.DC)
	msg.Entities = newEnts
	u := &tg.Updates{Updates: []tg.UpdateClass{w.editUpdate(c.self, to, msg)}, Date: int(now.Unix())}
	u.Users, u.Chats = to.entities(c.self)
	return u, nil
}

// editTarget is the message messages.editMessage names: the caller's own,
// still there (MESSAGE_ID_INVALID otherwise), in a private chat (ids are
// the caller's) or a group or channel (editChatMessage). Call with w.mu
// held.
func (w *world) editTarget(self *User, peer tg.InputPeerClass, id int) (dest, *Message, error) {
	if isChatPeer(peer) {
		return w.editChatMessage(self, peer, id)
	}
	to, err := w.inputPeer(self, peer)
	if err != nil {
		return dest{}, nil, err
	}
	om := w.account(self.ID).out[id]
	if om == nil || om.to != to.ID || !om.visible() {
		return dest{}, nil, errMessageIDInvalid
	}
	m := w.find(to.ID, self.ID, id)
	if m == nil {
		return dest{}, nil, errMessageIDInvalid
	}
	return dest{user: to}, m, nil
}
