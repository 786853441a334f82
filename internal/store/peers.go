package store

import (
	"encoding/json"
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
	Kind       string    `json:"kind"` // KindUser, KindChat or KindChannel
	ID         int64     `json:"id"`
	AccessHash int64     `json:"access_hash,omitempty"`
	Username   string    `json:"username,omitempty"`
	FirstName  string    `json:"first_name,omitempty"`
	LastName   string    `json:"last_name,omitempty"`
	Phone      string    `json:"phone,omitempty"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// idKey is the cache key under which SavePeer also indexes a peer, so that
// a recipient given as a numeric id resolves once the peer is known by any
// other key.
func idKey(id int64) string { return "id:" + strconv.FormatInt(id, 10) }

// LookupPeer returns the cached peer for a canonical recipient key such as
// "@name", "+15551234567" or "id:123", and whether there was one.
func (s *Store) LookupPeer(key string) (Peer, bool, error) {
	var (
		p  Peer
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPeers).Get([]byte(key))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return corrupt(s.path, "peer %q: %w", key, err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return Peer{}, false, err
	}
	return p, ok, nil
}

// SavePeer caches p under key and under "id:<p.ID>". A zero ResolvedAt is
// set to now.
func (s *Store) SavePeer(key string, p Peer) error {
	if key == "" {
		return errors.New("save peer: empty key")
	}
	if p.ResolvedAt.IsZero() {
		p.ResolvedAt = time.Now()
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save peer %s: %w", key, err)
	}
	// Batched: a first broadcast to a long list resolves and saves many
	// peers at once, and they can share one commit.
	err = s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		if err := b.Put([]byte(key), v); err != nil {
			return err
		}
		return b.Put([]byte(idKey(p.ID)), v)
	})
	if err != nil {
		return fmt.Errorf("save peer %s: %w", key, err)
	}
	return nil
}

// ForgetPeer removes key from the cache, for instance after Telegram
// rejected its access hash. Every other key cached for the same peer,
// including "id:<ID>", holds the same stale hash and goes too. It is not an
// error if key is not cached.
func (s *Store) ForgetPeer(key string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		var p Peer
		if err := json.Unmarshal(v, &p); err != nil {
			// Nothing to match aliases against; dropping the bad record is
			// exactly what the caller asked for.
			return b.Delete([]byte(key))
		}
		// Forgetting is rare and the cache small, so a scan beats keeping
		// a reverse index up to date.
		var aliases [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var q Peer
			if json.Unmarshal(v, &q) == nil && q.ID == p.ID && q.Kind == p.Kind {
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
