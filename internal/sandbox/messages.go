package sandbox

// messages.go owns sending: messages.sendMessage and what it shares with the
// media sends in media.go — the outgoing message, its checks and random_id
// dedupe (prepare), delivery to the recipient's inbox (commit), the Updates
// answer, the length limits and the InputPeer lookup.

import (
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// MessageLengthMax and CaptionLengthMax are Telegram's limits in UTF-16
// code units, announced in help.getConfig and enforced on sends. The numbers
// are the Bot API's and the community's (shared/TELEGRAM.md "Limits"); that
// Telegram counts them in UTF-16, as it does entity offsets
// (https://core.telegram.org/api/entities), is a guess.
const (
	MessageLengthMax = 4096
	CaptionLengthMax = 1024
)

// inputPeer resolves a user as a destination, PEER_ID_INVALID for an
// unknown one or a wrong access hash (gotd's schema docs; shared/TELEGRAM.md
// "Errors"). Sends take groups and channels too, through dest (chats.go).
func (w *world) inputPeer(self *User, in tg.InputPeerClass) (*User, error) {
	switch v := in.(type) {
	case *tg.InputPeerSelf:
		return w.users[self.ID], nil
	case *tg.InputPeerUser:
		return w.userWithHash(v.UserID, v.AccessHash, errPeerIDInvalid)
	default:
		return nil, errPeerIDInvalid
	}
}

// outgoing is what every send method shares: destination checks, the
// random_id dedupe and the per-account rate.
type outgoing struct {
	peer         tg.InputPeerClass
	replyTo      tg.InputReplyToClass
	randomID     int64
	text         string
	entities     []tg.MessageEntityClass
	silent       bool
	noPreview    bool
	scheduleDate int
	media        *Media
	mediaTG      tg.MessageMediaClass
	groupedID    int64
}

// prepare checks a send and reports whether its random_id was already
// delivered (then ids holds the original message ids). Call with w.mu held.
//
// Where each answer comes from: a repeated random_id answers the original
// message and creates none (observed, not documented: shared/TELEGRAM.md
// "random_id"); MESSAGE_EMPTY, MESSAGE_TOO_LONG, MEDIA_CAPTION_TOO_LONG and
// USER_IS_BLOCKED are in gotd's schema docs for messages.sendMessage and
// sendMedia; RANDOM_ID_INVALID and SCHEDULE_DATE_INVALID are listed only for
// other methods (e.g. messages.forwardMessages), so answering them here, for
// a zero random_id and a date less than 10 s ahead, is a guess; PEER_FLOOD
// (spam-limited, shared/TELEGRAM.md "Errors") after Options.PeerFloodAfter
// sends and FLOOD_WAIT_X (https://core.telegram.org/api/errors#420-flood)
// above Options.SendRate are the sandbox's fault knobs, not Telegram's
// thresholds. A group or channel's own rules (rights, topics, slow mode)
// are chatCheck's (chats.go).
func (w *world) prepare(self *User, o *outgoing, caption bool, now time.Time) (to dest, ids []int, err error) {
	to, err = w.dest(self, o.peer, o.replyTo)
	if err != nil {
		return dest{}, nil, err
	}
	a := w.account(self.ID)
	if rec, ok := a.sent[sentKey{peer: to.key(), randomID: o.randomID}]; ok {
		// Telegram answers a repeated random_id with the original message.
		return to, rec.ids, nil
	}
	if o.randomID == 0 {
		return dest{}, nil, tgerr.New(400, "RANDOM_ID_INVALID")
	}
	n := utf16Len(o.text)
	switch {
	case !caption && strings.TrimSpace(o.text) == "":
		return dest{}, nil, tgerr.New(400, "MESSAGE_EMPTY")
	case !caption && n > MessageLengthMax:
		return dest{}, nil, tgerr.New(400, "MESSAGE_TOO_LONG")
	case caption && n > CaptionLengthMax:
		return dest{}, nil, tgerr.New(400, "MEDIA_CAPTION_TOO_LONG")
	}
	if o.scheduleDate != 0 && time.Unix(int64(o.scheduleDate), 0).Before(now.Add(10*time.Second)) {
		return dest{}, nil, tgerr.New(400, "SCHEDULE_DATE_INVALID")
	}
	if to.user != nil && w.blocked[to.user.ID] {
		return dest{}, nil, tgerr.New(403, "USER_IS_BLOCKED")
	}
	if err := w.chatCheck(self, to, caption, now); err != nil {
		return dest{}, nil, err
	}
	if w.opts.PeerFloodAfter > 0 && a.sends >= w.opts.PeerFloodAfter {
		return dest{}, nil, tgerr.New(400, "PEER_FLOOD")
	}
	if wait, ok := w.takeSendSlot(a, now); !ok {
		return dest{}, nil, floodWait(wait)
	}
	a.sends++
	return to, nil, nil
}

// commit delivers o to its recipient and records its random_id. Call with
// w.mu held.
func (w *world) commit(self *User, to dest, o *outgoing, now time.Time) int {
	a := w.account(self.ID)
	id := w.newMessageID(self, to, now)
	key := sentKey{peer: to.key(), randomID: o.randomID}
	rec := a.sent[key]
	rec.ids = append(rec.ids, id)
	a.sent[key] = rec
	m := Message{
		ID:        id,
		FromID:    self.ID,
		ToID:      to.key(),
		To:        to.name(),
		Text:      o.text,
		Entities:  entities(o.entities),
		Media:     o.media,
		RandomID:  o.randomID,
		Date:      now.UTC(),
		Silent:    o.silent,
		NoPreview: o.noPreview,
		GroupedID: o.groupedID,
	}
	to.describe(&m)
	if o.scheduleDate != 0 {
		t := time.Unix(int64(o.scheduleDate), 0).UTC()
		m.ScheduleDate = &t
	}
	w.deliver(m)
	return id
}

// sendMessage answers messages.sendMessage
// (https://core.telegram.org/method/messages.sendMessage), checked by
// prepare. A plain send answers updateShortSentMessage, which gotd's
// message/unpack reads for the new id; a scheduled one answers Updates with
// updateNewScheduledMessage (which unpack ignores: shared/TELEGRAM.md
// "Pitfalls").
func (s *Server) sendMessage(c *call) (bin.Encoder, error) {
	var r tg.MessagesSendMessageRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	o := &outgoing{
		peer: r.Peer, replyTo: r.ReplyTo, randomID: r.RandomID, text: r.Message, entities: r.Entities,
		silent: r.Silent, noPreview: r.NoWebpage, scheduleDate: r.ScheduleDate,
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	to, ids, err := w.prepare(c.self, o, false, now)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []int{w.commit(c.self, to, o, now)}
	}
	if o.scheduleDate != 0 || to.chat != nil {
		// In a chat Telegram answers Updates too, with the chat in it
		// (shared/TELEGRAM.md "Chats"; for basic groups a guess).
		return w.updates(c.self, to, o, ids[0], now), nil
	}
	return &tg.UpdateShortSentMessage{Out: true, ID: ids[0], Date: int(now.Unix()), Entities: r.Entities}, nil
}

// updates is the answer Telegram gives to media and scheduled sends, and
// to any send to a chat: the random_id → id mapping and the new message.
func (w *world) updates(self *User, to dest, o *outgoing, id int, now time.Time) *tg.Updates {
	msg := &tg.Message{
		Out:      true,
		ID:       id,
		FromID:   &tg.PeerUser{UserID: self.ID},
		PeerID:   to.peer(),
		ReplyTo:  to.replyHeader(),
		Date:     int(now.Unix()),
		Message:  o.text,
		Entities: o.entities,
		Silent:   o.silent,
	}
	if o.mediaTG != nil {
		msg.Media = o.mediaTG
	}
	if o.groupedID != 0 {
		msg.GroupedID = o.groupedID
	}
	upd := w.newMessageUpdate(self, to, msg)
	if o.scheduleDate != 0 {
		msg.Date = o.scheduleDate
		msg.FromScheduled = true
		upd = &tg.UpdateNewScheduledMessage{Message: msg}
	}
	u := &tg.Updates{
		Updates: []tg.UpdateClass{&tg.UpdateMessageID{ID: id, RandomID: o.randomID}, upd},
		Date:    int(now.Unix()),
	}
	u.Users, u.Chats = to.entities(self)
	return u
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func entities(in []tg.MessageEntityClass) []Entity {
	if len(in) == 0 {
		return nil
	}
	out := make([]Entity, 0, len(in))
	for _, e := range in {
		name := strings.ToLower(strings.TrimPrefix(e.TypeName(), "messageEntity"))
		ent := Entity{Type: name, Offset: e.GetOffset(), Length: e.GetLength()}
		if u, ok := e.(*tg.MessageEntityTextURL); ok {
			ent.URL = u.URL
		}
		out = append(out, ent)
	}
	return out
}
