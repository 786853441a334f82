package store

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Peer kinds.
const (
	KindUser    = "user"
	KindChat    = "chat"
	KindChannel = "channel"
)

// Peer is a resolved recipient: what is needed to address it without
// resolving it again, plus the names to show.
type Peer struct {
	Kind string `json:"kind"` // KindUser, KindChat or KindChannel
	// ID is a user's id, or a chat's as the Bot API writes it (negative:
	// see chats.go), so that no two peers share one.
	ID         int64     `json:"id"`
	AccessHash int64     `json:"access_hash,omitempty"`
	Username   string    `json:"username,omitempty"`
	FirstName  string    `json:"first_name,omitempty"`
	LastName   string    `json:"last_name,omitempty"`
	Phone      string    `json:"phone,omitempty"`
	ResolvedAt time.Time `json:"resolved_at"`
	// Megagroup: a channel that is a supergroup (members write), not a
	// broadcast channel (admins post). Forum: a supergroup with topics.
	Megagroup bool `json:"megagroup,omitempty"`
	Forum     bool `json:"forum,omitempty"`
}

// idKey is the cache key under which SavePeer also indexes a peer, so that
// a recipient given as a numeric id resolves once the peer is known by any
// other key.
func idKey(id int64) string { return "id:" + strconv.FormatInt(id, 10) }

// LookupPeer returns the cached peer for a canonical recipient key such as
// "@name", "+15551234567" or "id:123", and whether there was one.
func (s *Store) LookupPeer(key string) (Peer, bool, error) {
	p, ref, ok, err := s.readPeer(key)
	if err != nil || !ok || ref == 0 {
		return p, ok, err
	}
	p, ref, ok, err = s.readPeer(idKey(ref))
	switch {
	case err != nil:
		return Peer{}, false, err
	case !ok:
		// The record went (ForgetPeer) and left this name behind: not
		// known, so resolved again.
		return Peer{}, false, nil
	case ref != 0:
		return Peer{}, false, corrupt(s.path, "peer %q: %s is a reference too", key, idKey(ref))
	}
	return p, true, nil
}

// readPeer reads one record of the peer cache: a save not yet committed,
// else the database. The database is read in a transaction begun after
// the look at the queue, so a save committed in between is seen there.
func (s *Store) readPeer(key string) (p Peer, ref int64, ok bool, err error) {
	if v, queued := s.peerw.get(key); queued {
		p, ref, err = decodePeer(v)
		return p.normal(), ref, err == nil, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPeers).Get([]byte(key))
		if v == nil {
			return nil
		}
		if p, ref, err = decodePeer(v); err != nil {
			return corrupt(s.path, "peer %q: %w", key, err)
		}
		p, ok = p.normal(), true
		return nil
	})
	return p, ref, ok, err
}

// SavePeer caches p under key and under "id:<p.ID>". A zero ResolvedAt is
// set to now.
//
// The write is committed behind the caller's back (see peerWriter): LookupPeer
// sees the peer at once, and Close waits for the commit. A send that has just
// resolved a recipient goes straight on to send to it instead of waiting for
// a commit; a crash before the commit costs one more resolve, nothing else.
func (s *Store) SavePeer(key string, p Peer) error {
	if key == "" {
		return errors.New("save peer: empty key")
	}
	if s.Snapshot() {
		return fmt.Errorf("save peer %s: %w", key, ErrReadOnly)
	}
	if p.ResolvedAt.IsZero() {
		p.ResolvedAt = s.now()
	}
	v, err := encodePeer(p)
	if err != nil {
		return fmt.Errorf("save peer %s: %w", key, err)
	}
	// The peer is stored once, under its id; key only points there.
	writes := map[string][]byte{idKey(p.ID): v}
	if key != idKey(p.ID) {
		ref, err := encodePeerRef(p.ID)
		if err != nil {
			return fmt.Errorf("save peer %s: %w", key, err)
		}
		writes[key] = ref
	}
	s.peerw.queue(s, key, writes)
	return nil
}

// ForgetPeer removes key from the cache, for instance after Telegram
// rejected its access hash. Every other key cached for the same peer,
// including "id:<ID>", holds the same stale hash and goes too. It is not an
// error if key is not cached.
func (s *Store) ForgetPeer(key string) error {
	// A queued save of this peer must not land after the delete.
	s.peerw.wait()
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		p, ref, err := decodePeer(v)
		if err != nil {
			// Nothing to match aliases against; dropping the bad record is
			// exactly what the caller asked for.
			return b.Delete([]byte(key))
		}
		if ref != 0 {
			p.ID = ref
		}
		// Forgetting is rare and the cache small, so a scan beats keeping
		// a reverse index up to date. Every key of the peer goes: its
		// record, the names that point to it, and schema 1's copies.
		var aliases [][]byte
		err = b.ForEach(func(k, v []byte) error {
			q, qref, err := decodePeer(v)
			switch {
			case err != nil:
			case qref == p.ID, qref == 0 && q.normal().ID == p.normal().ID:
				aliases = append(aliases, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting while iterating with ForEach is not allowed.
		for _, k := range append(aliases, []byte(key)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget peer %s: %w", key, err)
	}
	return nil
}
