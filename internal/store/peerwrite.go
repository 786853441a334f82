package store

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// peerWriter commits SavePeer's writes in the background. Saves that arrive
// together share one commit (the committer, commit.go); until it lands, the encoded
// peers are served from memory, so a save is visible at once.
type peerWriter struct {
	mu      sync.Mutex
	pending map[string][]byte // key → encoded peer, not yet committed
	wg      sync.WaitGroup
	err     error // the first failed commit
}

// queue starts committing writes (key → encoded record) for the save of
// key.
func (w *peerWriter) queue(s *Store, key string, writes map[string][]byte) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string][]byte{}
	}
	for k, v := range writes {
		w.pending[k] = v
	}
	w.wg.Add(1)
	w.mu.Unlock()
	// Batched: a first broadcast to a long list resolves and saves many
	// peers at once, and they can share one commit.
	s.batchAsync(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		b.FillPercent = journalFill
		for k, v := range writes {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}, func(err error) {
		defer w.wg.Done()
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("save peer %s: %w", key, err)
		}
		// Only if no later save of the same key is still on its way.
		for k, v := range writes {
			if cur, ok := w.pending[k]; ok && &cur[0] == &v[0] {
				delete(w.pending, k)
			}
		}
	})
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
