package store

// prune.go removes the journals of broadcasts that are done with, so that a
// daily cron job's state stays the size of its retention period instead of
// growing with every broadcast. What a removed broadcast leaves behind is a
// tombstone of a few dozen bytes: its id, base id and run number are in its
// random_ids, and a later broadcast must never reuse them (Telegram drops a
// message whose random_id it has seen, for an undocumented time).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketPruned = []byte("pruned")

// Tombstone is what remains of a pruned broadcast.
type Tombstone struct {
	ID         string    `json:"id"`
	BaseID     string    `json:"base_id"`
	Run        int       `json:"run"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at"` // its last change
	PrunedAt   time.Time `json:"pruned_at"`
}

// PruneOptions say which broadcasts Prune removes.
type PruneOptions struct {
	// Before: a finished (or retracted) broadcast whose last change is
	// before this is removed. Unfinished ones are never removed: they can
	// be resumed however old they are.
	Before time.Time
	// Deadline, when not zero, bounds the time Prune takes: it stops
	// between transactions once it has passed, and PruneResult.More says
	// that old broadcasts are left for the next call.
	Deadline time.Time
}

// PruneResult is what Prune removed and kept.
type PruneResult struct {
	Removed []Summary // oldest first
	Entries int       // journal entries removed with them
	// KeptUnfinished counts broadcasts older than Before that were kept
	// because they can still be resumed.
	KeptUnfinished int
	More           bool // the deadline came first; more are due
}

// pruneBatch is how many broadcasts one transaction removes: each commit
// costs a sync, and a deadline is checked between commits.
const pruneBatch = 32

// Prune removes every finished or retracted broadcast last changed before
// o.Before: its record, summary and journal, leaving a Tombstone.
func (s *Store) Prune(o PruneOptions) (PruneResult, error) {
	var (
		res PruneResult
		due []Summary
	)
	err := s.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSummaries)
		if sb == nil {
			return nil
		}
		return sb.ForEach(func(k, v []byte) error {
			var m Summary
			if err := json.Unmarshal(v, &m); err != nil {
				return corrupt(s.path, "summary %q: %w", k, err)
			}
			switch {
			case !m.UpdatedAt.Before(o.Before):
			case m.prunable():
				due = append(due, m)
			default:
				res.KeptUnfinished++
			}
			return nil
		})
	})
	if err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	slices.SortFunc(due, func(a, b Summary) int { return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID)) })
	for len(due) > 0 {
		if !o.Deadline.IsZero() && !time.Now().Before(o.Deadline) {
			res.More = true
			break
		}
		n := min(pruneBatch, len(due))
		entries := 0
		err := s.update(func(tx *bolt.Tx) error {
			entries = 0
			for _, m := range due[:n] {
				e, err := s.remove(tx, m)
				if err != nil {
					return err
				}
				entries += e
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prune: %w", err)
		}
		res.Removed = append(res.Removed, due[:n]...)
		res.Entries += entries
		due = due[n:]
	}
	return res, nil
}

// remove deletes one broadcast in tx and leaves its tombstone; it returns
// how many journal entries went with it.
func (s *Store) remove(tx *bolt.Tx, m Summary) (int, error) {
	id := []byte(m.ID)
	entries := 0
	if j := tx.Bucket(bucketJournal).Bucket(id); j != nil {
		entries = j.Stats().KeyN
		if err := tx.Bucket(bucketJournal).DeleteBucket(id); err != nil {
			return 0, err
		}
	}
	if err := tx.Bucket(bucketBroadcasts).Delete(id); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bucketSummaries).Delete(id); err != nil {
		return 0, err
	}
	pb, err := tx.CreateBucketIfNotExists(bucketPruned)
	if err != nil {
		return 0, err
	}
	v, err := encode(Tombstone{ID: m.ID, BaseID: m.BaseID, Run: m.Run, CreatedAt: m.CreatedAt, FinishedAt: m.UpdatedAt, PrunedAt: s.now()})
	if err != nil {
		return 0, err
	}
	return entries, pb.Put(id, v)
}

// Pruned returns the tombstone of broadcast id, if it was pruned.
func (s *Store) Pruned(id string) (Tombstone, bool, error) {
	var (
		t  Tombstone
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketPruned)
		if pb == nil {
			return nil
		}
		v := pb.Get([]byte(id))
		if v == nil {
			return nil
		}
		ok = true
		if err := json.Unmarshal(v, &t); err != nil {
			return corrupt(s.path, "tombstone %q: %w", id, err)
		}
		return nil
	})
	return t, ok, err
}

// PrunedRuns returns the highest run number of baseID among pruned
// broadcasts, 0 if none: the next run must be numbered above it. Runs of a
// derived id are named baseID, baseID-2, baseID-3 …, so their tombstones
// are found by prefix.
func (s *Store) PrunedRuns(baseID string) (int, error) {
	highest := 0
	err := s.view(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketPruned)
		if pb == nil || baseID == "" {
			return nil
		}
		c := pb.Cursor()
		prefix := []byte(baseID)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var t Tombstone
			if err := json.Unmarshal(v, &t); err != nil {
				return corrupt(s.path, "tombstone %q: %w", k, err)
			}
			if t.BaseID == baseID {
				highest = max(highest, t.Run)
			}
		}
		return nil
	})
	return highest, err
}
