package store

import (
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Users, basic groups and channels keep apart in one int64, and a chat's
// own id comes back for MTProto.
func TestChatIDs(t *testing.T) {
	for _, tc := range []struct {
		p    Peer
		kind string
		raw  int64
	}{
		{Peer{Kind: KindUser, ID: 1001}, KindUser, 1001},
		{Peer{Kind: KindChat, ID: ChatPeerID(1001)}, KindChat, 1001},
		{Peer{Kind: KindChannel, ID: ChannelPeerID(1001)}, KindChannel, 1001},
		{Peer{Kind: KindChannel, ID: ChannelPeerID(999_999_999_999)}, KindChannel, 999_999_999_999},
		{Peer{Kind: KindChat, ID: ChatPeerID(999_999_999_999)}, KindChat, 999_999_999_999},
	} {
		if got := KindOfID(tc.p.ID); got != tc.kind {
			t.Errorf("KindOfID(%d) = %s, want %s", tc.p.ID, got, tc.kind)
		}
		if got := tc.p.RawID(); got != tc.raw {
			t.Errorf("%+v.RawID() = %d, want %d", tc.p, got, tc.raw)
		}
	}
	if ChannelPeerID(1234567890) != -1001234567890 {
		t.Errorf("ChannelPeerID(1234567890) = %d, not the Bot API's -1001234567890", ChannelPeerID(1234567890))
	}
}

// A chat cached before chats had Bot API ids (under its own positive id)
// reads back with the id it has now; a user's record is as it was.
func TestLegacyChatRecordsRead(t *testing.T) {
	s := open(t, stateDir(t))
	put := func(key string, p Peer) {
		v, _ := json.Marshal(p)
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPeers).Put([]byte(key), v) }); err != nil {
			t.Fatal(err)
		}
	}
	put("@news", Peer{Kind: KindChannel, ID: 777, AccessHash: 5})
	put("@family", Peer{Kind: KindChat, ID: 42})
	put("@friend1", Peer{Kind: KindUser, ID: 1001, AccessHash: 9})
	for key, want := range map[string]int64{"@news": ChannelPeerID(777), "@family": ChatPeerID(42), "@friend1": 1001} {
		p, ok, err := s.LookupPeer(key)
		if err != nil || !ok || p.ID != want {
			t.Errorf("LookupPeer(%s) = %+v, %v, %v; want id %d", key, p, ok, err, want)
		}
	}
	if p, _, _ := s.LookupPeer("@news"); p.RawID() != 777 || p.AccessHash != 5 {
		t.Errorf("legacy channel %+v", p)
	}
}
