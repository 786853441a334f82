package sandbox

// chats.go owns the sandbox's groups, supergroups and channels: the fixed
// set every account is a member of (sandboxChats), where a send to one of
// them lands (dest, with forum topics, rights and slow mode), and the
// methods that are about chats: messages.getDialogs, messages.getChats,
// channels.getChannels, messages.getForumTopics and channels.deleteMessages,
// plus the chat side of messages.editMessage and messages.getPeerDialogs.
// The sends themselves stay in messages.go and media.go.
//
// Ids: a chat message's inbox, to_id and random_id record are keyed by the
// chat's Bot API id (-ID for a basic group, -100ID for a channel or
// supergroup, see peerID), so they can never be confused with a user's.

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// Chat kinds.
const (
	ChatGroup      = "group"      // a basic group
	ChatSupergroup = "supergroup" // a channel with megagroup set
	ChatChannel    = "channel"    // a broadcast channel
)

// channelMark is the offset of a channel's Bot API id: channel 2001 is
// -1000000002001 (https://core.telegram.org/bots/api#chat "-100" ids; the
// same as internal/store's ChannelMark, kept apart so the sandbox stays
// independent of the tool it tests).
const channelMark = 1_000_000_000_000

// Chat is a sandbox group, supergroup or channel.
type Chat struct {
	// ID is Telegram's own id for the chat (unique per kind).
	ID   int64  `json:"id"`
	Kind string `json:"kind"` // ChatGroup, ChatSupergroup or ChatChannel
	// AccessHash is a supergroup's or channel's; basic groups need none.
	AccessHash int64  `json:"access_hash,omitempty"`
	Title      string `json:"title"`
	Username   string `json:"username,omitempty"`
	Forum      bool   `json:"forum,omitempty"`
	// Topics of a forum, the General topic (id 1) first.
	Topics []Topic `json:"topics,omitempty"`
	// Admin: every account is an admin allowed to post (a channel's
	// posting admin). Otherwise accounts are plain members, and in a
	// broadcast channel plain members cannot post.
	Admin bool `json:"admin,omitempty"`
	// NoMedia: members may not send media (default_banned_rights.send_media).
	NoMedia bool `json:"no_media,omitempty"`
	// SlowMode: a member may send one message every SlowMode.
	SlowMode time.Duration `json:"slow_mode,omitempty"`
	// MigratedTo: a basic group that became this supergroup (its id) and
	// was deactivated.
	MigratedTo int64 `json:"migrated_to,omitempty"`
	// Recipient is how broadcast names the chat in --to.
	Recipient string `json:"recipient"`
}

// Topic is a forum topic. Its id is the id of the message that opened it.
type Topic struct {
	ID        int    `json:"id"`
	Title     string `json:"title"`
	Closed    bool   `json:"closed,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
	Recipient string `json:"recipient"`
}

// PeerID is the chat's Bot API id: the to_id of the messages it holds.
func (c *Chat) PeerID() int64 {
	if c.Kind == ChatGroup {
		return -c.ID
	}
	return -channelMark - c.ID
}

func (c *Chat) isChannel() bool { return c.Kind != ChatGroup }

// chatState is what happens in one chat: a channel numbers its own
// messages (its seq and pts); a basic group's messages are numbered by
// each sender's account, as private chats are. Slow mode remembers each
// member's last message.
type chatState struct {
	seq  int
	pts  int
	out  map[int]*chanMsg
	last map[int64]time.Time
}

// chanMsg is a message in a channel or supergroup, by the channel's id.
type chanMsg struct {
	from    int64
	date    time.Time
	topic   int
	deleted time.Time
}

// generalTopic is the General topic's id
// (https://core.telegram.org/constructor/forumTopic: "hidden ... only valid
// for the General topic, id=1").
const generalTopic = 1

// sandboxChats are the chats every sandbox has. Their ids are chosen so a
// basic group's own id equals a friend's (group 1001, friend1 is user
// 1001): Telegram's ids are per kind, and a client that keys chats and
// users by one number must keep them apart. Topic ids 2 to 4 are the
// messages that opened them, so the forum's own messages start at 5.
func sandboxChats(opts Options) []*Chat {
	return []*Chat{
		{ID: 1001, Kind: ChatGroup, Title: "Family"},
		{ID: 1002, Kind: ChatGroup, Title: "Book Club (old)", MigratedTo: 2004},
		{ID: 2001, Kind: ChatSupergroup, Title: "Sandbox Forum", Username: "sandbox_forum", Forum: true, Topics: []Topic{
			{ID: generalTopic, Title: "General"},
			{ID: 2, Title: "Announcements"},
			{ID: 3, Title: "Archive", Closed: true},
			{ID: 4, Title: "Old plans", Deleted: true},
		}},
		{ID: 2002, Kind: ChatChannel, Title: "Sandbox News", Username: "sandbox_news", Admin: true},
		{ID: 2003, Kind: ChatChannel, Title: "Sandbox Blog", Username: "sandbox_blog"},
		{ID: 2004, Kind: ChatSupergroup, Title: "Book Club"},
		{ID: 2005, Kind: ChatSupergroup, Title: "Sandbox Lounge", Username: "sandbox_lounge", NoMedia: true, SlowMode: opts.SlowMode},
	}
}

// addChats puts the sandbox's chats into w. Call from newWorld.
func (w *world) addChats() {
	w.chats = map[int64]*Chat{}
	w.chatState = map[int64]*chatState{}
	for _, c := range sandboxChats(w.opts) {
		if c.isChannel() {
			c.AccessHash = accessHash(c.PeerID())
		}
		c.Recipient = chatRecipient(c, 0)
		for i := range c.Topics {
			c.Topics[i].Recipient = chatRecipient(c, c.Topics[i].ID)
		}
		w.chats[c.PeerID()] = c
		st := &chatState{out: map[int]*chanMsg{}, last: map[int64]time.Time{}}
		for _, t := range c.Topics {
			st.seq = max(st.seq, t.ID)
		}
		w.chatState[c.PeerID()] = st
	}
}

// chatRecipient is how broadcast names c (and a topic of it).
func chatRecipient(c *Chat, topic int) string {
	var s string
	switch {
	case c.Username != "":
		s = "@" + c.Username
	case c.isChannel():
		s = "t.me/c/" + strconv.FormatInt(c.ID, 10)
	default:
		s = strconv.FormatInt(c.PeerID(), 10)
	}
	if topic != 0 && topic != generalTopic {
		s += "/" + strconv.Itoa(topic)
	}
	return s
}

// lookupChat finds a chat by @username, username, title, Bot API id
// ("-1001", "id:-1001") or its recipient string. Call with w.mu held.
func (w *world) lookupChat(name string) *Chat {
	if id, err := strconv.ParseInt(strings.TrimPrefix(name, "id:"), 10, 64); err == nil {
		return w.chats[id]
	}
	for _, c := range w.chats {
		if c.Recipient == name || strings.EqualFold(c.Title, name) ||
			c.Username != "" && strings.EqualFold(c.Username, strings.TrimPrefix(name, "@")) {
			return c
		}
	}
	return nil
}

// channelByID is a supergroup or channel by its own id. Call with w.mu
// held.
func (w *world) channelByID(id int64) *Chat {
	c := w.chats[-channelMark-id]
	if c == nil || !c.isChannel() {
		return nil
	}
	return c
}

// Chats lists the sandbox's chats, basic groups first, then by id.
func (s *Server) Chats() []Chat {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Chat
	for _, c := range w.chats {
		cc := *c
		cc.Topics = slices.Clone(c.Topics)
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Kind == ChatGroup) != (out[j].Kind == ChatGroup) {
			return out[i].Kind == ChatGroup
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ChatInbox returns the messages in a chat (by @username, title, Bot API
// id or recipient string), in delivery order; each has the topic it went
// to (0: the chat itself, or the General topic).
func (s *Server) ChatInbox(name string) []Message {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.lookupChat(name)
	if c == nil {
		return nil
	}
	return append([]Message(nil), w.inbox[c.PeerID()]...)
}

// dest is where a send goes: a user, or a chat and the topic in it.
type dest struct {
	user  *User
	chat  *Chat
	topic int // a forum topic (0: the chat itself, the General topic)
	// replyTo is the message replied to outside any topic (a guess at
	// what a client means by reply_to in a chat without topics).
	replyTo int
}

// key is what the inbox, to_id and the random_id record know the
// destination by: the user's id, or the chat's Bot API id.
func (d dest) key() int64 {
	if d.chat != nil {
		return d.chat.PeerID()
	}
	return d.user.ID
}

// name is the inbox's "to": a username or phone, or a chat's username or
// title.
func (d dest) name() string {
	if d.chat != nil {
		if d.chat.Username != "" {
			return d.chat.Username
		}
		return d.chat.Title
	}
	if d.user.Username != "" {
		return d.user.Username
	}
	return d.user.Phone
}

// peer is the destination as messages name it.
func (d dest) peer() tg.PeerClass {
	if d.chat != nil {
		return chatPeerClass(d.chat)
	}
	return &tg.PeerUser{UserID: d.user.ID}
}

func chatPeerClass(c *Chat) tg.PeerClass {
	if c.isChannel() {
		return &tg.PeerChannel{ChannelID: c.ID}
	}
	return &tg.PeerChat{ChatID: c.ID}
}

// peerOf is the Peer a message's to_id names.
func peerOf(id int64) tg.PeerClass {
	switch {
	case id > 0:
		return &tg.PeerUser{UserID: id}
	case id > -channelMark:
		return &tg.PeerChat{ChatID: -id}
	}
	return &tg.PeerChannel{ChannelID: -id - channelMark}
}

// entities are the users and chats an answer about d carries.
func (d dest) entities(self *User) ([]tg.UserClass, []tg.ChatClass) {
	users := []tg.UserClass{self.tg(true)}
	chats := []tg.ChatClass{}
	if d.user != nil && d.user.ID != self.ID {
		users = append(users, d.user.tg(false))
	}
	if d.chat != nil {
		chats = append(chats, d.chat.tg())
	}
	return users, chats
}

// tg is c as Telegram sends it to a member: a channel with the account's
// rights, or a basic group (deactivated, naming its supergroup, once
// migrated). The photo is empty: the field is required.
func (c *Chat) tg() tg.ChatClass {
	if !c.isChannel() {
		ch := &tg.Chat{ID: c.ID, Title: c.Title, Photo: &tg.ChatPhotoEmpty{}, ParticipantsCount: 12, Date: 1_700_000_000, Version: 1}
		if c.MigratedTo != 0 {
			ch.Deactivated = true
			ch.MigratedTo = &tg.InputChannel{ChannelID: c.MigratedTo, AccessHash: accessHash(-channelMark - c.MigratedTo)}
		}
		return ch
	}
	ch := &tg.Channel{
		ID: c.ID, AccessHash: c.AccessHash, Title: c.Title, Username: c.Username, Photo: &tg.ChatPhotoEmpty{},
		Date: 1_700_000_000, Megagroup: c.Kind == ChatSupergroup, Broadcast: c.Kind == ChatChannel, Forum: c.Forum,
		SlowmodeEnabled: c.SlowMode > 0,
	}
	if c.Admin {
		ch.AdminRights = tg.ChatAdminRights{PostMessages: true, EditMessages: true, DeleteMessages: true}
	}
	if c.NoMedia {
		ch.DefaultBannedRights = tg.ChatBannedRights{SendMedia: true, SendPhotos: true, SendDocs: true}
	}
	return ch
}

// isChatPeer: in names a group or channel rather than a user.
func isChatPeer(in tg.InputPeerClass) bool {
	switch in.(type) {
	case *tg.InputPeerChat, *tg.InputPeerChannel:
		return true
	}
	return false
}

// chat resolves an InputPeerChat or InputPeerChannel. A channel needs the
// access hash the caller was given (CHANNEL_INVALID otherwise: gotd's
// schema docs for the sends); a basic group that is unknown, or was
// migrated and so deactivated, answers PEER_ID_INVALID, as vysheng/tg#971
// and #1047 report for a send to a migrated group (field reports; that
// Telegram still answers so is a guess).
func (w *world) chat(in tg.InputPeerClass) (*Chat, error) {
	switch v := in.(type) {
	case *tg.InputPeerChat:
		c := w.chats[-v.ChatID]
		if c == nil || c.isChannel() || c.MigratedTo != 0 {
			return nil, errPeerIDInvalid
		}
		return c, nil
	case *tg.InputPeerChannel:
		c := w.channelByID(v.ChannelID)
		if c == nil || c.AccessHash != v.AccessHash {
			return nil, tgerr.New(400, "CHANNEL_INVALID")
		}
		return c, nil
	}
	return nil, errPeerIDInvalid
}

// dest resolves a send's peer and reply_to. A user is as inputPeer has it.
// In a forum, reply_to names the topic: reply_to_msg_id is the topic's id
// for a post to it, or, with top_msg_id, a message inside it
// (https://core.telegram.org/constructor/inputReplyToMessage); no reply_to
// is the General topic. TOPIC_DELETED for a deleted topic and
// REPLY_TO_INVALID for an id that is neither a topic nor a message in the
// chat are from gotd's schema docs for the sends; which one Telegram
// answers for which mistake is a guess. Call with w.mu held.
func (w *world) dest(self *User, in tg.InputPeerClass, reply tg.InputReplyToClass) (dest, error) {
	if !isChatPeer(in) {
		u, err := w.inputPeer(self, in)
		return dest{user: u}, err
	}
	c, err := w.chat(in)
	if err != nil {
		return dest{}, err
	}
	d := dest{chat: c}
	r, ok := reply.(*tg.InputReplyToMessage)
	if !ok || r.ReplyToMsgID == 0 {
		return d, nil
	}
	id := r.ReplyToMsgID
	if r.TopMsgID != 0 {
		id = r.TopMsgID
	}
	if c.Forum {
		for _, t := range c.Topics {
			if t.ID != id {
				continue
			}
			if t.Deleted {
				return dest{}, tgerr.New(406, "TOPIC_DELETED")
			}
			if t.ID != generalTopic {
				d.topic = t.ID
			}
			return d, nil
		}
	}
	st := w.chatState[c.PeerID()]
	if cm := st.out[r.ReplyToMsgID]; cm != nil && cm.deleted.IsZero() {
		d.topic = cm.topic
		if !c.Forum {
			d.replyTo = r.ReplyToMsgID
		}
		return d, nil
	}
	if !c.isChannel() && w.find(c.PeerID(), self.ID, r.ReplyToMsgID) != nil {
		d.replyTo = r.ReplyToMsgID
		return d, nil
	}
	return dest{}, tgerr.New(400, "REPLY_TO_INVALID")
}

// chatCheck applies a chat's rules to a send from self, after the random_id
// dedupe (a repeat is not a new message). Errors and codes are those gotd's
// schema docs list for messages.sendMessage and sendMedia:
// CHAT_ADMIN_REQUIRED (403, "You must be an admin in this chat to do
// this") for posting in a broadcast channel without admin rights (that
// Telegram answers a plain subscriber so, rather than CHAT_WRITE_FORBIDDEN,
// is a guess), TOPIC_CLOSED (406) for a closed topic, which admins may
// still post in (a guess, from TDLib letting admins manage topics),
// CHAT_SEND_MEDIA_FORBIDDEN (403) where default_banned_rights bans media,
// and SLOWMODE_WAIT_X (420) when the member's last message in the chat is
// less than the slow mode interval old ("users will only be able to send
// one message every seconds seconds":
// https://core.telegram.org/method/channels.toggleSlowMode). That admins
// are exempt from slow mode and that an album counts as one message are
// guesses. Call with w.mu held.
func (w *world) chatCheck(self *User, d dest, media bool, now time.Time) error {
	c := d.chat
	if c == nil {
		return nil
	}
	if c.Kind == ChatChannel && !c.Admin {
		return tgerr.New(403, "CHAT_ADMIN_REQUIRED")
	}
	if d.topic != 0 && !c.Admin {
		for _, t := range c.Topics {
			if t.ID == d.topic && t.Closed {
				return tgerr.New(406, "TOPIC_CLOSED")
			}
		}
	}
	if media && c.NoMedia && !c.Admin {
		return tgerr.New(403, "CHAT_SEND_MEDIA_FORBIDDEN")
	}
	if c.SlowMode > 0 && !c.Admin {
		if last, ok := w.chatState[c.PeerID()].last[self.ID]; ok {
			if left := c.SlowMode - now.Sub(last); left > 0 {
				return slowModeWait(left)
			}
		}
	}
	return nil
}

// slowModeWait is SLOWMODE_WAIT_X, X whole seconds rounded up, at least 1.
func slowModeWait(d time.Duration) error {
	secs := int((d + time.Second - 1) / time.Second)
	return tgerr.New(420, "SLOWMODE_WAIT_"+strconv.Itoa(max(secs, 1)))
}

// newMessageID hands out the id of a message from self to d: a channel's
// next id, or the sender's own next one (private chats and basic groups).
// Call with w.mu held.
func (w *world) newMessageID(self *User, d dest, now time.Time) int {
	if d.chat != nil {
		st := w.chatState[d.chat.PeerID()]
		st.last[self.ID] = now
		if d.chat.isChannel() {
			st.seq++
			st.pts++
			st.out[st.seq] = &chanMsg{from: self.ID, date: now.UTC(), topic: d.topic}
			return st.seq
		}
	}
	a := w.account(self.ID)
	a.msgSeq++
	a.pts++
	a.out[a.msgSeq] = &outMsg{to: d.key(), date: now.UTC()}
	return a.msgSeq
}

// newMessageUpdate is the update a new message makes: updateNewChannelMessage
// with the channel's pts for a channel (shared/TELEGRAM.md "Chats"),
// updateNewMessage with the account's otherwise. Call with w.mu held.
func (w *world) newMessageUpdate(self *User, d dest, msg *tg.Message) tg.UpdateClass {
	if d.chat != nil && d.chat.isChannel() {
		return &tg.UpdateNewChannelMessage{Message: msg, Pts: w.chatState[d.chat.PeerID()].pts, PtsCount: 1}
	}
	return &tg.UpdateNewMessage{Message: msg, Pts: w.account(self.ID).pts, PtsCount: 1}
}

// replyHeader marks a message as a topic's (forum_topic, the topic's id)
// or as a reply.
func (d dest) replyHeader() tg.MessageReplyHeaderClass {
	switch {
	case d.topic != 0:
		return &tg.MessageReplyHeader{ForumTopic: true, ReplyToMsgID: d.topic, ReplyToTopID: d.topic}
	case d.replyTo != 0:
		return &tg.MessageReplyHeader{ReplyToMsgID: d.replyTo}
	}
	return nil
}

// describe fills the chat fields of an inbox message.
func (d dest) describe(m *Message) {
	if d.chat == nil {
		return
	}
	m.Chat, m.Topic, m.ReplyTo = d.chat.Kind, d.topic, d.replyTo
}

func init() {
	// The chat methods are registered here, beside their code, rather than
	// in rpc.go's table.
	for id, m := range map[uint32]method{
		tg.MessagesGetDialogsRequestTypeID:     {name: "messages.getDialogs", fn: (*Server).getDialogs, auth: true},
		tg.MessagesGetChatsRequestTypeID:       {name: "messages.getChats", fn: (*Server).getChats, auth: true},
		tg.ChannelsGetChannelsRequestTypeID:    {name: "channels.getChannels", fn: (*Server).getChannels, auth: true},
		tg.MessagesGetForumTopicsRequestTypeID: {name: "messages.getForumTopics", fn: (*Server).getForumTopics, auth: true},
		tg.ChannelsDeleteMessagesRequestTypeID: {name: "channels.deleteMessages", fn: (*Server).channelsDeleteMessages, auth: true},
	} {
		methods[id] = m
	}
}

// getDialogs answers messages.getDialogs
// (https://core.telegram.org/method/messages.getDialogs): the caller's
// chats, then the users it has written to, newest first by their last
// message (a chat without one is dated by its creation: a guess), paged by
// offset_peer as gotd's dialogs iterator pages (the dialogs after
// offset_peer; offset_date and offset_id are not needed then: a guess at
// how Telegram combines them). The whole list in one answer is
// messages.dialogs, a page of it messages.dialogsSlice with the total.
// Bots cannot call it: BOT_METHOD_INVALID (MadelineProto's docs, "Can bots
// use this method: NO").
func (s *Server) getDialogs(c *call) (bin.Encoder, error) {
	var r tg.MessagesGetDialogsRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if c.self.Bot {
		return nil, tgerr.New(400, "BOT_METHOD_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	type entry struct {
		peer   int64
		top    *Message
		date   time.Time
		dialog *tg.Dialog
	}
	var all []entry
	for id, c2 := range w.chats {
		e := entry{peer: id, date: time.Unix(1_700_000_000, 0)}
		if in := w.inbox[id]; len(in) > 0 {
			e.top = &in[len(in)-1]
			e.date = e.top.Date
		}
		e.dialog = &tg.Dialog{Peer: chatPeerClass(c2), NotifySettings: tg.PeerNotifySettings{}}
		all = append(all, e)
	}
	marks := w.dialogMarks(w.account(c.self.ID), w.writtenTo(c.self.ID), now)
	for id, mk := range marks {
		e := entry{peer: id, dialog: &tg.Dialog{Peer: &tg.PeerUser{UserID: id}, TopMessage: mk.top, ReadOutboxMaxID: mk.read, NotifySettings: tg.PeerNotifySettings{}}}
		if m := w.find(id, c.self.ID, mk.top); m != nil {
			e.top, e.date = m, m.Date
		}
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].date.Equal(all[j].date) {
			return all[i].date.After(all[j].date)
		}
		return all[i].peer < all[j].peer
	})
	start := 0
	if off := offsetPeer(r.OffsetPeer); off != 0 {
		for i, e := range all {
			if e.peer == off {
				start = i + 1
			}
		}
	}
	limit := r.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	page := all[min(start, len(all)):min(start+limit, len(all))]
	users := []tg.UserClass{c.self.tg(true)}
	chats := []tg.ChatClass{}
	msgs := []tg.MessageClass{}
	for _, e := range page {
		if e.top != nil {
			e.dialog.TopMessage = e.top.ID
			msgs = append(msgs, w.tgMessage(e.top, s.opts.DC))
		}
		if ch := w.chats[e.peer]; ch != nil {
			chats = append(chats, ch.tg())
		} else if u := w.users[e.peer]; u != nil && u.ID != c.self.ID {
			users = append(users, u.tg(false))
		}
	}
	// The supergroup a listed basic group became is named too.
	for _, e := range page {
		if ch := w.chats[e.peer]; ch != nil && ch.MigratedTo != 0 {
			if to := w.channelByID(ch.MigratedTo); to != nil && !slices.ContainsFunc(page, func(p entry) bool { return p.peer == to.PeerID() }) {
				chats = append(chats, to.tg())
			}
		}
	}
	dialogs := make([]tg.DialogClass, len(page))
	for i, e := range page {
		dialogs[i] = e.dialog
	}
	if start == 0 && len(page) == len(all) {
		return &tg.MessagesDialogs{Dialogs: dialogs, Messages: msgs, Chats: chats, Users: users}, nil
	}
	return &tg.MessagesDialogsSlice{Count: len(all), Dialogs: dialogs, Messages: msgs, Chats: chats, Users: users}, nil
}

// offsetPeer is the inbox key of getDialogs' offset_peer (0: none).
func offsetPeer(in tg.InputPeerClass) int64 {
	switch v := in.(type) {
	case *tg.InputPeerUser:
		return v.UserID
	case *tg.InputPeerChat:
		return -v.ChatID
	case *tg.InputPeerChannel:
		return -channelMark - v.ChannelID
	}
	return 0
}

// writtenTo is every user the account has sent a message. Call with w.mu
// held.
func (w *world) writtenTo(self int64) map[int64]bool {
	out := map[int64]bool{}
	for _, om := range w.account(self).out {
		if om.to > 0 {
			out[om.to] = true
		}
	}
	return out
}

// getChats answers messages.getChats
// (https://core.telegram.org/method/messages.getChats) for basic groups:
// each id the sandbox has, deactivated with migrated_to once it became a
// supergroup, which is how a client learns the migration. An id that names
// no basic group answers CHAT_ID_INVALID (gotd's schema docs; failing the
// whole call rather than leaving it out is a guess).
func (s *Server) getChats(c *call) (bin.Encoder, error) {
	var r tg.MessagesGetChatsRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	out := &tg.MessagesChats{Chats: []tg.ChatClass{}}
	for _, id := range r.ID {
		ch := w.chats[-id]
		if ch == nil || ch.isChannel() {
			return nil, tgerr.New(400, "CHAT_ID_INVALID")
		}
		out.Chats = append(out.Chats, ch.tg())
	}
	return out, nil
}

// getChannels answers channels.getChannels
// (https://core.telegram.org/method/channels.getChannels): each channel or
// supergroup named with its access hash; CHANNEL_INVALID for one the
// sandbox does not have or a wrong hash (gotd's schema docs; failing the
// whole call is a guess).
func (s *Server) getChannels(c *call) (bin.Encoder, error) {
	var r tg.ChannelsGetChannelsRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	out := &tg.MessagesChats{Chats: []tg.ChatClass{}}
	for _, in := range r.ID {
		ic, ok := in.(*tg.InputChannel)
		if !ok {
			return nil, tgerr.New(400, "CHANNEL_INVALID")
		}
		ch, err := w.chat(&tg.InputPeerChannel{ChannelID: ic.ChannelID, AccessHash: ic.AccessHash})
		if err != nil {
			return nil, err
		}
		out.Chats = append(out.Chats, ch.tg())
	}
	return out, nil
}

// getForumTopics answers messages.getForumTopics
// (https://core.telegram.org/method/messages.getForumTopics) with the
// forum's topics, deleted ones left out, newest first (Telegram orders
// them by their last message: a guess that creation order will do here),
// paged by offset_topic: the topics older than it. A chat that is not a
// forum answers CHANNEL_INVALID, the one error gotd's schema docs list
// (a guess that it covers this).
func (s *Server) getForumTopics(c *call) (bin.Encoder, error) {
	var r tg.MessagesGetForumTopicsRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, err := w.chat(r.Peer)
	if err != nil {
		return nil, err
	}
	if !ch.Forum {
		return nil, tgerr.New(400, "CHANNEL_INVALID")
	}
	var live []Topic
	for _, t := range ch.Topics {
		if !t.Deleted {
			live = append(live, t)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID > live[j].ID })
	out := &tg.MessagesForumTopics{Count: len(live), Topics: []tg.ForumTopicClass{}, Messages: []tg.MessageClass{},
		Chats: []tg.ChatClass{ch.tg()}, Users: []tg.UserClass{c.self.tg(true)}, Pts: max(1, w.chatState[ch.PeerID()].pts)}
	limit := r.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	for _, t := range live {
		if r.OffsetTopic != 0 && t.ID >= r.OffsetTopic {
			continue
		}
		if len(out.Topics) == limit {
			break
		}
		out.Topics = append(out.Topics, w.tgTopic(ch, t, c.self))
	}
	return out, nil
}

// tgTopic is a topic as the forum-topic methods carry it; top_message is
// its newest message. Call with w.mu held.
func (w *world) tgTopic(ch *Chat, t Topic, self *User) *tg.ForumTopic {
	top := t.ID
	for id, cm := range w.chatState[ch.PeerID()].out {
		if cm.deleted.IsZero() && (cm.topic == t.ID || t.ID == generalTopic && cm.topic == 0) && id > top {
			top = id
		}
	}
	return &tg.ForumTopic{
		ID: t.ID, Date: 1_700_000_000, Peer: chatPeerClass(ch), Title: t.Title, IconColor: 0x6FB9F0, Closed: t.Closed,
		Hidden: false, TopMessage: top, FromID: &tg.PeerUser{UserID: self.ID}, NotifySettings: tg.PeerNotifySettings{},
	}
}

// channelsDeleteMessages answers channels.deleteMessages
// (https://core.telegram.org/method/channels.deleteMessages): a channel's
// ids are its own, so the call names the channel, and a deleted message
// leaves the chat for everyone. The caller may delete its own messages and,
// as an admin, anyone's (the sandbox has only the accounts' messages). Ids
// that name no message the channel still has are skipped, as
// messages.deleteMessages does here (a guess, see aftercare.go); a message
// the caller may not delete answers MESSAGE_DELETE_FORBIDDEN (gotd's schema
// docs) and deletes nothing. CHANNEL_INVALID for a wrong channel or hash.
// The answer is messages.affectedMessages with the channel's pts.
func (s *Server) channelsDeleteMessages(c *call) (bin.Encoder, error) {
	var r tg.ChannelsDeleteMessagesRequest
	if err := r.Decode(c.buf); err != nil {
		return nil, err
	}
	if len(r.ID) > maxIDsPerCall {
		return nil, tgerr.New(400, "LIMIT_INVALID")
	}
	ic, ok := r.Channel.(*tg.InputChannel)
	if !ok {
		return nil, tgerr.New(400, "CHANNEL_INVALID")
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, err := w.chat(&tg.InputPeerChannel{ChannelID: ic.ChannelID, AccessHash: ic.AccessHash})
	if err != nil {
		return nil, err
	}
	st := w.chatState[ch.PeerID()]
	now := time.Now()
	var ids []int
	for _, id := range r.ID {
		cm := st.out[id]
		if cm == nil || !cm.deleted.IsZero() || slices.Contains(ids, id) {
			continue
		}
		if cm.from != c.self.ID && !ch.Admin {
			return nil, tgerr.New(403, "MESSAGE_DELETE_FORBIDDEN")
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		cm := st.out[id]
		cm.deleted = now.UTC()
		line := deletedLine{Event: eventDeleted, ID: id, FromID: cm.from, ToID: ch.PeerID(), Date: now.UTC()}
		if m := w.find(ch.PeerID(), cm.from, id); m != nil {
			line.To = m.To
		}
		w.removeFromInbox(ch.PeerID(), cm.from, id)
		st.pts++
		w.deleted++
		w.logLine(line)
	}
	return &tg.MessagesAffectedMessages{Pts: max(1, st.pts), PtsCount: len(ids)}, nil
}

// editChatMessage is messages.editMessage (aftercare.go) in a group or
// channel: the message must be the caller's and still there
// (MESSAGE_ID_INVALID otherwise); a channel's ids are its own, a basic
// group's the caller's. It returns the message to edit; the edit itself is
// aftercare.go's. Call with w.mu held.
func (w *world) editChatMessage(self *User, in tg.InputPeerClass, id int) (dest, *Message, error) {
	ch, err := w.chat(in)
	if err != nil {
		return dest{}, nil, err
	}
	d := dest{chat: ch}
	if ch.isChannel() {
		cm := w.chatState[ch.PeerID()].out[id]
		if cm == nil || cm.from != self.ID || !cm.deleted.IsZero() {
			return dest{}, nil, errMessageIDInvalid
		}
		d.topic = cm.topic
	} else {
		om := w.account(self.ID).out[id]
		if om == nil || om.to != ch.PeerID() || !om.visible() {
			return dest{}, nil, errMessageIDInvalid
		}
	}
	m := w.find(ch.PeerID(), self.ID, id)
	if m == nil {
		return dest{}, nil, errMessageIDInvalid
	}
	return d, m, nil
}

// editUpdate is the update an edit makes: updateEditChannelMessage with
// the channel's pts in a channel, updateEditMessage otherwise. Call with
// w.mu held, after the edit.
func (w *world) editUpdate(self *User, d dest, msg *tg.Message) tg.UpdateClass {
	if d.chat != nil && d.chat.isChannel() {
		st := w.chatState[d.chat.PeerID()]
		st.pts++
		return &tg.UpdateEditChannelMessage{Message: msg, Pts: st.pts, PtsCount: 1}
	}
	a := w.account(self.ID)
	a.pts++
	return &tg.UpdateEditMessage{Message: msg, Pts: a.pts, PtsCount: 1}
}

// chatDialog is one chat's dialog for messages.getPeerDialogs: its newest
// message from the caller and how far the chat has read the caller's
// messages. As with users (dialogs.go), a message is read once it is
// Options.ReadAfter old, unless deleted first: in a chat that means
// someone in it read it. Call with w.mu held.
func (w *world) chatDialog(self *User, ch *Chat, now time.Time) (*tg.Dialog, *Message) {
	var top *Message
	read := 0
	after := w.opts.ReadAfter
	for i := range w.inbox[ch.PeerID()] {
		m := &w.inbox[ch.PeerID()][i]
		if m.FromID != self.ID {
			continue
		}
		if top == nil || m.ID > top.ID {
			top = m
		}
		if after > 0 && !m.Date.Add(after).After(now) && m.ID > read {
			read = m.ID
		}
	}
	d := &tg.Dialog{Peer: chatPeerClass(ch), ReadOutboxMaxID: read, NotifySettings: tg.PeerNotifySettings{}}
	if top != nil {
		d.TopMessage = top.ID
	}
	if ch.isChannel() {
		d.Pts = max(1, w.chatState[ch.PeerID()].pts)
	}
	return d, top
}

// replayChat puts a logged channel message back: the channel's ids, its
// slow mode and random_id record. It reports whether m was a channel's.
// Call from replay.
func (w *world) replayChat(m Message) bool {
	ch := w.chats[m.ToID]
	if ch == nil || !ch.isChannel() {
		return false
	}
	st := w.chatState[m.ToID]
	st.seq = max(st.seq, m.ID)
	st.pts++
	st.out[m.ID] = &chanMsg{from: m.FromID, date: m.Date, topic: m.Topic}
	if m.Date.After(st.last[m.FromID]) {
		st.last[m.FromID] = m.Date
	}
	return true
}

// replayChatEvent applies a logged edit or deletion in a channel; false
// for one the log never delivered. Call from replayEvent.
func (w *world) replayChatEvent(event string, m Message) (handled, ok bool) {
	ch := w.chats[m.ToID]
	if ch == nil || !ch.isChannel() {
		return false, false
	}
	st := w.chatState[m.ToID]
	st.seq = max(st.seq, m.ID)
	cm := st.out[m.ID]
	if cm == nil || cm.from != m.FromID {
		return true, false
	}
	switch event {
	case eventEdited:
		old := w.find(m.ToID, m.FromID, m.ID)
		if old == nil {
			return true, false
		}
		*old = m
	case eventDeleted:
		w.removeFromInbox(m.ToID, m.FromID, m.ID)
		cm.deleted = m.Date
	default:
		return true, false
	}
	st.pts++
	return true, true
}
