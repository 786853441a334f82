package store

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// peerWriter commits SavePeer's writes in the background. Saves that arrive
// together share one commit (bbolt's batch); until it lands, the encoded
// peers are served from memory, so a save is visible at once.
type peerWriter struct {
	mu      sync.Mutex
	pending map[string][]byte // key → encoded peer, not yet committed
	wg      sync.WaitGroup
	err     error // the first failed commit
}

// queue starts committing v under key and alias.
func (w *peerWriter) queue(s *Store, key, alias string, v []byte) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string][]byte{}
	}
	w.pending[key], w.pending[alias] = v, v
	w.wg.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		// Batched: a first broadcast to a long list resolves and saves
		// many peers at once, and they can share one commit.
		err := s.batch(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketPeers)
			b.FillPercent = journalFill
			if err := b.Put([]byte(key), v); err != nil {
				return err
			}
			return b.Put([]byte(alias), v)
		})
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("save peer %s: %w", key, err)
		}
		// Only if no later save of the same key is still on its way.
		for _, k := range []string{key, alias} {
			if cur, ok := w.pending[k]; ok && &cur[0] == &v[0] {
				delete(w.pending, k)
			}
		}
	}()
}

// get returns a peer saved but not yet committed.
func (w *peerWriter) get(key string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.pending[key]
	return v, ok
}

// wait returns once every queued save is committed, with the first error.
func (w *peerWriter) wait() error {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
