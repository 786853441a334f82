package telegram

// chats.go owns groups, supergroups, channels and forum topics as
// recipients: turning Telegram's chat objects into cached peers, listing
// the account's chats (messages.getDialogs, users only) with the recipient
// string for each, following a basic group that became a supergroup, and
// checking that a topic is in a forum. The Bot API ids the cache and the
// journal use are described in internal/store/chats.go.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gotd/td/telegram/message/peer"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Kind names for people, as `resolve` and `chats` show them.
const (
	KindNameUser       = "user"
	KindNameGroup      = "group"
	KindNameSupergroup = "supergroup"
	KindNameChannel    = "channel"
	KindNameTopic      = "topic"
)

// KindName says what p is in words: user, group (a basic group),
// supergroup or channel; topic when a message goes to one of its topics.
func KindName(p store.Peer, topic int) string {
	switch {
	case topic != 0:
		return KindNameTopic
	case p.Kind == store.KindChat:
		return KindNameGroup
	case p.Kind == store.KindChannel && p.Megagroup:
		return KindNameSupergroup
	case p.Kind == store.KindChannel:
		return KindNameChannel
	case p.Kind == KindSelf:
		return KindSelf
	}
	return KindNameUser
}

// IsChat reports whether p is a group or channel rather than a person.
func IsChat(p store.Peer) bool {
	return p.Kind == store.KindChat || p.Kind == store.KindChannel
}

// channelPeer is a channel or supergroup as the cache keeps it.
func channelPeer(ch *tg.Channel, now time.Time) store.Peer {
	username := ch.Username
	if username == "" {
		// A channel with several usernames (collectible ones) lists them
		// here instead; the first active one reaches it.
		for _, u := range ch.Usernames {
			if u.Active {
				username = u.Username
				break
			}
		}
	}
	return store.Peer{Kind: store.KindChannel, ID: store.ChannelPeerID(ch.ID), AccessHash: ch.AccessHash,
		Username: username, FirstName: ch.Title, Megagroup: ch.Megagroup, Forum: ch.Forum, ResolvedAt: now}
}

// chatPeer is a basic group as the cache keeps it; it needs no access hash.
func chatPeer(ch *tg.Chat, now time.Time) store.Peer {
	return store.Peer{Kind: store.KindChat, ID: store.ChatPeerID(ch.ID), FirstName: ch.Title, ResolvedAt: now}
}

// Recipient is the recipient string that names p (and a topic in it) in
// --to: @name for a public chat, t.me/c/ID for a private supergroup or
// channel (the link Telegram's apps give it), and the Bot API id for a
// basic group, which has neither.
func Recipient(p store.Peer, topic int) string {
	var s string
	switch {
	case p.Username != "":
		s = "@" + p.Username
	case p.Kind == store.KindChannel:
		s = "t.me/c/" + strconv.FormatInt(p.RawID(), 10)
	default:
		s = strconv.FormatInt(p.ID, 10)
	}
	if topic != 0 {
		s += "/" + strconv.Itoa(topic)
	}
	return s
}

// ChatInfo is one group or channel the account is in, as `broadcast chats`
// lists it.
type ChatInfo struct {
	Peer store.Peer
	// Recipient is what to write in --to to send here.
	Recipient string
	// ReadOnly: the account's rights let it read but not post (a channel
	// it does not administer, a group where sending is banned).
	ReadOnly bool
	// MigratedTo is set for a basic group that became a supergroup: the
	// supergroup, which a message to the group goes to.
	MigratedTo *store.Peer
	// Topics of a forum, newest first.
	Topics []TopicInfo
}

// TopicInfo is one topic of a forum.
type TopicInfo struct {
	ID        int
	Title     string
	Closed    bool
	Recipient string
}

// dialogBatch is how many dialogs one messages.getDialogs asks for: 100 is
// what Telegram's apps and TDLib ask for at most.
const dialogBatch = 100

// maxDialogPages bounds the paging (10000 dialogs), so a server that keeps
// answering cannot keep the command running.
const maxDialogPages = 100

// dialogs calls f for each of the account's dialogs, paging
// messages.getDialogs by the last dialog of each page (offset_peer, and
// its top message's id and date), as gotd's dialogs iterator does; unlike
// it, it stops at a complete answer (messages.dialogs) instead of asking
// once more.
func (c *Client) dialogs(ctx context.Context, f func(*tg.Dialog, peer.Entities)) error {
	req := &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: dialogBatch}
	seen := 0
	for range maxDialogPages {
		res, err := c.api.MessagesGetDialogs(ctx, req)
		if err != nil {
			return classify(err)
		}
		var (
			list  []tg.DialogClass
			msgs  []tg.MessageClass
			total int
			ents  peer.Entities
			last  = true
		)
		switch v := res.(type) {
		case *tg.MessagesDialogs:
			list, msgs, ents = v.Dialogs, v.Messages, peer.EntitiesFromResult(v)
		case *tg.MessagesDialogsSlice:
			list, msgs, ents, total = v.Dialogs, v.Messages, peer.EntitiesFromResult(v), v.Count
			last = false
		default:
			return fmt.Errorf("unexpected answer %T to messages.getDialogs", res)
		}
		var tail *tg.Dialog
		for _, dc := range list {
			if d, ok := dc.(*tg.Dialog); ok {
				f(d, ents)
				tail = d
			}
		}
		seen += len(list)
		if last || len(list) == 0 || seen >= total || tail == nil {
			return nil
		}
		in, err := ents.ExtractPeer(tail.Peer)
		if err != nil {
			return fmt.Errorf("page the dialogs: %w", err)
		}
		req.OffsetPeer, req.OffsetID, req.OffsetDate = in, tail.TopMessage, 0
		for _, m := range msgs {
			if nm, ok := m.AsNotEmpty(); ok && nm.GetID() == tail.TopMessage {
				req.OffsetDate = nm.GetDate()
			}
		}
	}
	return nil
}

// Chats lists the groups and channels the account is in
// (messages.getDialogs), with each forum's topics
// (messages.getForumTopics), and caches every one of them by its recipient
// string and id, so a private chat, known only by its t.me/c/ID link, can
// be sent to afterwards. Bots cannot list dialogs: they get an *RPCError of
// type BOT_METHOD_INVALID.
func (c *Client) Chats(ctx context.Context) ([]ChatInfo, error) {
	now := time.Now().UTC()
	var out []ChatInfo
	migrated := map[int64]int64{} // basic group id → the channel it became
	err := c.dialogs(ctx, func(d *tg.Dialog, ents peer.Entities) {
		switch p := d.Peer.(type) {
		case *tg.PeerChannel:
			ch, ok := ents.Channel(p.ChannelID)
			if !ok || ch.Left {
				return
			}
			info := ChatInfo{Peer: channelPeer(ch, now), ReadOnly: !canPostChannel(ch)}
			out = append(out, info)
		case *tg.PeerChat:
			ch, ok := ents.Chat(p.ChatID)
			if !ok || ch.Left {
				return
			}
			info := ChatInfo{Peer: chatPeer(ch, now), ReadOnly: ch.DefaultBannedRights.SendMessages && !ch.Creator && ch.AdminRights.Zero()}
			if to, ok := ch.MigratedTo.(*tg.InputChannel); ok {
				migrated[ch.ID] = to.ChannelID
			}
			out = append(out, info)
		}
	})
	if err != nil {
		return nil, err
	}
	byChannel := map[int64]store.Peer{}
	for _, info := range out {
		if info.Peer.Kind == store.KindChannel {
			byChannel[info.Peer.RawID()] = info.Peer
		}
	}
	st := c.opts.Store
	for i := range out {
		info := &out[i]
		if to, ok := migrated[info.Peer.RawID()]; ok && info.Peer.Kind == store.KindChat {
			if p, ok := byChannel[to]; ok {
				info.MigratedTo = &p
			}
		}
		if info.Peer.Forum {
			topics, err := c.topics(ctx, info.Peer)
			if err != nil {
				return nil, err
			}
			info.Topics = topics
		}
		info.Recipient = Recipient(info.Peer, 0)
		// A migrated group's id leads to the supergroup it became: that is
		// where a message to the group goes now.
		cached := info.Peer
		if info.MigratedTo != nil {
			cached = *info.MigratedTo
		}
		if err := st.SavePeer(cacheKey(info.Peer), cached); err != nil {
			return nil, err
		}
		if info.Peer.Username != "" {
			if err := st.SavePeer("@"+strings.ToLower(info.Peer.Username), cached); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// cacheKey is the recipient key of p's id ("id:-100…").
func cacheKey(p store.Peer) string { return "id:" + strconv.FormatInt(p.ID, 10) }

// canPostChannel: the account may post in a broadcast channel only as its
// creator or an admin with post_messages; in a supergroup unless it or
// everyone is banned from sending (chatBannedRights.send_messages).
func canPostChannel(ch *tg.Channel) bool {
	switch {
	case ch.Creator:
		return true
	case ch.Broadcast || !ch.Megagroup:
		return ch.AdminRights.PostMessages
	case !ch.AdminRights.Zero():
		return true
	}
	return !ch.BannedRights.SendMessages && !ch.DefaultBannedRights.SendMessages
}

// topicBatch is how many topics one messages.getForumTopics asks for.
const topicBatch = 100

// maxTopicPages bounds the paging: a forum of 5000 topics is listed in
// full, and a server that keeps answering the same page cannot loop.
const maxTopicPages = 50

// topics lists a forum's open and closed topics (deleted ones are left
// out), paging by the last topic's id as messages.getForumTopics'
// offset_topic asks.
func (c *Client) topics(ctx context.Context, p store.Peer) ([]TopicInfo, error) {
	var out []TopicInfo
	offset := 0
	for range maxTopicPages {
		res, err := c.api.MessagesGetForumTopics(ctx, &tg.MessagesGetForumTopicsRequest{
			Peer: inputPeer(p), OffsetTopic: offset, Limit: topicBatch,
		})
		if err != nil {
			return nil, fmt.Errorf("topics of %s: %w", Recipient(p, 0), classify(err))
		}
		last := offset
		for _, t := range res.Topics {
			last = t.GetID()
			ft, ok := t.(*tg.ForumTopic)
			if !ok {
				continue // forumTopicDeleted
			}
			topic := ft.ID
			if topic == generalTopic {
				topic = 0 // the General topic is the chat itself
			}
			out = append(out, TopicInfo{ID: ft.ID, Title: ft.Title, Closed: ft.Closed, Recipient: Recipient(p, topic)})
		}
		if len(res.Topics) == 0 || len(res.Topics) < topicBatch || last == offset {
			break
		}
		offset = last
	}
	return out, nil
}

// generalTopic is the id of a forum's General topic
// (https://core.telegram.org/constructor/forumTopic: "only valid for the
// General topic, id=1"). A message to it goes to the chat itself, without
// reply_to.
const generalTopic = 1

// resolveChat resolves a basic group by its id with messages.getChats: its
// title, and whether it became a supergroup (Telegram deactivates a basic
// group when it is upgraded and names the supergroup in migrated_to). A
// message to a migrated group goes to the supergroup, and the group's key
// is cached as the supergroup from then on. It is asked on every run that
// sends to a basic group, so a migration since the last run is followed
// before anything is journaled under the old id.
func (c *Client) resolveChat(ctx context.Context, r recipient.Recipient, id int64) (store.Peer, error) {
	res, err := c.api.MessagesGetChats(ctx, []int64{-id})
	if err != nil {
		return store.Peer{}, classify(err)
	}
	now := time.Now().UTC()
	for _, cl := range res.GetChats() {
		switch ch := cl.(type) {
		case *tg.Chat:
			if ch.ID != -id {
				continue
			}
			to, ok := ch.MigratedTo.(*tg.InputChannel)
			if !ok {
				p := chatPeer(ch, now)
				return p, c.opts.Store.SavePeer(r.PeerKey(), p)
			}
			p, err := c.channel(ctx, &tg.InputChannel{ChannelID: to.ChannelID, AccessHash: to.AccessHash})
			if err != nil {
				return store.Peer{}, err
			}
			c.decisions().Debug("the basic group became a supergroup", "recipient", r.Input, "group", id, "supergroup", p.ID)
			return p, c.opts.Store.SavePeer(r.PeerKey(), p)
		case *tg.ChatForbidden:
			if ch.ID == -id {
				return store.Peer{}, &RPCError{Type: "CHAT_FORBIDDEN", Detail: details["CHAT_FORBIDDEN"]}
			}
		}
	}
	return store.Peer{}, &RPCError{Type: "CHAT_ID_INVALID", Detail: details["CHAT_ID_INVALID"]}
}

// channel asks channels.getChannels for one channel: its title, username,
// and whether it is a supergroup and a forum now.
func (c *Client) channel(ctx context.Context, in *tg.InputChannel) (store.Peer, error) {
	res, err := c.api.ChannelsGetChannels(ctx, []tg.InputChannelClass{in})
	if err != nil {
		return store.Peer{}, classify(err)
	}
	for _, cl := range res.GetChats() {
		switch ch := cl.(type) {
		case *tg.Channel:
			if ch.ID == in.ChannelID {
				if ch.AccessHash == 0 {
					ch.AccessHash = in.AccessHash // a min constructor
				}
				return channelPeer(ch, time.Now().UTC()), nil
			}
		case *tg.ChannelForbidden:
			if ch.ID == in.ChannelID {
				return store.Peer{}, &RPCError{Type: "CHANNEL_PRIVATE", Detail: details["CHANNEL_PRIVATE"]}
			}
		}
	}
	return store.Peer{}, &RPCError{Type: "CHANNEL_INVALID", Detail: details["CHANNEL_INVALID"]}
}

// errNotForum: a topic was named in a chat that has none.
var errNotForum = errors.New("not a forum")

// checkTopic makes sure a message for a topic goes to a forum. In any
// other chat reply_to would make the message a reply to that message id (a
// t.me/name/42 link names post 42 of a channel), so the peer cache's word
// that the chat is no forum is checked once with channels.getChannels
// before the recipient fails.
func (c *Client) checkTopic(ctx context.Context, r recipient.Recipient, p store.Peer) (store.Peer, error) {
	if r.Topic == 0 || p.Forum {
		return p, nil
	}
	notForum := &RPCError{Type: "NOT_A_FORUM", Detail: fmt.Sprintf("%s has no topics, so %s is not a topic (a t.me link with a number can name a message)", Recipient(p, 0), r.Input), Err: errNotForum}
	if p.Kind != store.KindChannel {
		return p, notForum
	}
	fresh, err := c.channel(ctx, &tg.InputChannel{ChannelID: p.RawID(), AccessHash: p.AccessHash})
	if err != nil {
		return p, err
	}
	if !fresh.Forum {
		return p, notForum
	}
	return fresh, c.opts.Store.SavePeer(r.PeerKey(), fresh)
}

// replyTo is what makes a message a topic's: reply_to with the topic's id,
// the id of the message that opened it. top_msg_id is only for replying to
// another message inside a topic
// (https://core.telegram.org/constructor/inputReplyToMessage: "only when
// replying to messages in forum topics ... reply_to_msg_id != topicID"),
// so it stays unset. Nil for the chat itself (and its General topic).
func replyTo(topic int) tg.InputReplyToClass {
	if topic == 0 || topic == generalTopic {
		return nil
	}
	return &tg.InputReplyToMessage{ReplyToMsgID: topic}
}

// slowModeWait is the wait SLOWMODE_WAIT_X asks for: X seconds before the
// next message to this chat (gotd's schema docs for messages.sendMessage:
// "Slowmode is enabled in this chat: wait %d seconds before sending
// another message to this chat"). Unlike FLOOD_WAIT it concerns one chat.
func slowModeWait(err error) (time.Duration, bool) {
	rpc, ok := tgerr.AsType(err, "SLOWMODE_WAIT")
	if !ok {
		return 0, false
	}
	return time.Duration(max(rpc.Argument, 1)) * time.Second, true
}
