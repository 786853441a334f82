package store

// chats.go names groups and channels in the peer cache and the journal.
//
// Telegram numbers users, basic groups and channels (supergroups are
// channels) in three separate spaces, so user 2001 and basic group 2001 can
// both exist. The cache and the journal key everything by one int64, so a
// chat is stored under the number the Bot API gives it, which the three
// spaces cannot share:
//
//	user           ID                        2001
//	basic group   -ID                       -2001
//	channel       -(1000000000000 + ID)     -1000000002001
//
// A user's key is its plain id, as before chats could be recipients, so a
// journal or cache written then reads the same now. The number is also what
// `resolve` and --json show as peer_id, and what Telegram's own Bot API and
// the apps' t.me/c/ID links use. Peer.RawID turns it back into the id
// MTProto's InputPeerChat and InputPeerChannel take.

// ChannelMark is the offset of channel ids: channel 1234567890 is
// -1001234567890. Telegram's channel ids stay below it (TDLib's
// ChannelId::MAX_CHANNEL_ID is 10^12 - 2^31).
const ChannelMark int64 = 1_000_000_000_000

// ChatPeerID is the cache and journal id of basic group id.
func ChatPeerID(id int64) int64 { return -id }

// ChannelPeerID is the cache and journal id of channel or supergroup id.
func ChannelPeerID(id int64) int64 { return -ChannelMark - id }

// KindOfID is the kind of peer a cache or journal id names: KindUser for a
// positive id, KindChat for a basic group's, KindChannel for a channel's.
func KindOfID(id int64) string {
	switch {
	case id > 0:
		return KindUser
	case id > -ChannelMark:
		return KindChat
	}
	return KindChannel
}

// RawID is the id Telegram's methods take for p: the chat or channel's own
// id, without the Bot API's sign and offset.
func (p Peer) RawID() int64 {
	switch {
	case p.Kind == KindChat && p.ID < 0:
		return -p.ID
	case p.Kind == KindChannel && p.ID < 0:
		return -p.ID - ChannelMark
	}
	return p.ID
}

// normal is p with the cache's id for its kind. Before chats were
// recipients a chat or channel that a username resolved to was cached under
// its raw, positive id; reading it gives the id it has now.
func (p Peer) normal() Peer {
	switch {
	case p.Kind == KindChat && p.ID > 0:
		p.ID = ChatPeerID(p.ID)
	case p.Kind == KindChannel && p.ID > 0:
		p.ID = ChannelPeerID(p.ID)
	}
	return p
}
