package store

// summary.go keeps a small record per broadcast beside the full one: what
// `history` lists, what Prune decides by, and what LatestRun searches. A
// broadcast record carries its recipient list twice (as given, and in the
// spec) and its journal one entry per recipient, so reading every record to
// list a few months of daily broadcasts to a thousand people meant decoding
// megabytes; a summary is a few hundred bytes, and its counts are taken once,
// when a run ends.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketSummaries = []byte("summaries")

// journalFill is how full bbolt packs the pages of the journal and the peer
// cache when it splits them (its default is half). Entries are added and
// rarely removed one by one, so half-empty pages would stay half empty: a
// 10,000-recipient broadcast's journal and peers took 8 MiB of pages at
// half, and about 5 at this.
const journalFill = 0.9

// Summary is a broadcast without its recipient list and journal: enough to
// list it, with its recipients counted by outcome.
type Summary struct {
	ID          string         `json:"id"`
	BaseID      string         `json:"base_id"`
	Run         int            `json:"run"`
	State       BroadcastState `json:"state"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	Text        string         `json:"text"`
	Edit        *Edit          `json:"edit,omitempty"`
	RetractedAt time.Time      `json:"retracted_at,omitzero"`
	Recipients  int            `json:"recipients"`

	// Sent, Failed and Pending count the journal's entries by status.
	// Counted says they were taken when the last run ended; otherwise (a
	// run in progress, or one that crashed) Summaries counts them when read.
	Sent    int  `json:"sent"`
	Failed  int  `json:"failed"`
	Pending int  `json:"pending"`
	Counted bool `json:"counted,omitempty"`
}

// prunable reports whether the broadcast is done with for good: finished,
// or retracted (which is never resumed). Anything else can still be resumed
// and is never pruned.
func (m Summary) prunable() bool {
	return m.State == StateFinished || !m.RetractedAt.IsZero()
}

func summaryOf(b Broadcast) Summary {
	return Summary{ID: b.ID, BaseID: b.BaseID, Run: b.Run, State: b.State, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
		Text: b.Text, Edit: b.Edit, RetractedAt: b.RetractedAt, Recipients: len(b.Recipients)}
}

// putBroadcast writes b and its summary in tx. With recount (a run has just
// ended) the journal is counted now; otherwise the counts already there are
// kept, unless b is running again.
func (s *Store) putBroadcast(tx *bolt.Tx, b Broadcast, recount bool) error {
	v, err := encode(b)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketBroadcasts).Put([]byte(b.ID), v); err != nil {
		return err
	}
	sb, err := tx.CreateBucketIfNotExists(bucketSummaries)
	if err != nil {
		return err
	}
	m := summaryOf(b)
	switch {
	case recount:
		if err := s.count(tx, &m); err != nil {
			return err
		}
		m.Counted = true
	case b.State != StateRunning:
		if old := sb.Get([]byte(b.ID)); old != nil {
			var prev Summary
			if json.Unmarshal(old, &prev) == nil && prev.Counted {
				m.Sent, m.Failed, m.Pending, m.Counted = prev.Sent, prev.Failed, prev.Pending, true
			}
		}
	}
	if v, err = encode(m); err != nil {
		return err
	}
	return sb.Put([]byte(b.ID), v)
}

// count fills m's counts from the journal in tx.
func (s *Store) count(tx *bolt.Tx, m *Summary) error {
	m.Sent, m.Failed, m.Pending = 0, 0, 0
	j := tx.Bucket(bucketJournal).Bucket([]byte(m.ID))
	if j == nil {
		return nil
	}
	return j.ForEach(func(k, v []byte) error {
		e, err := DecodeEntry(v)
		if err != nil {
			return corrupt(s.path, "entry %s/%x: %w", m.ID, k, err)
		}
		switch e.Status {
		case EntrySent:
			m.Sent++
		case EntryFailed:
			m.Failed++
		case EntryPending:
			m.Pending++
		}
		return nil
	})
}

// Summaries returns every broadcast's summary, newest first, in the order of
// Broadcasts.
func (s *Store) Summaries() ([]Summary, error) {
	var list []Summary
	err := s.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSummaries)
		if sb == nil {
			// A copy of a database no broadcast of this version has
			// opened for writing: summarise the records themselves.
			return tx.Bucket(bucketBroadcasts).ForEach(func(k, v []byte) error {
				b, err := DecodeBroadcast(v)
				if err != nil {
					return corrupt(s.path, "broadcast %q: %w", k, err)
				}
				m := summaryOf(b)
				if err := s.count(tx, &m); err != nil {
					return err
				}
				list = append(list, m)
				return nil
			})
		}
		return sb.ForEach(func(k, v []byte) error {
			var m Summary
			if err := json.Unmarshal(v, &m); err != nil || m.ID == "" {
				return corrupt(s.path, "summary %q: %v", k, err)
			}
			if !m.Counted {
				if err := s.count(tx, &m); err != nil {
					return err
				}
			}
			list = append(list, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	slices.SortFunc(list, func(a, b Summary) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Run, a.Run), strings.Compare(b.ID, a.ID))
	})
	return list, nil
}

// ensureSummaries gives a database written before summaries existed one
// for every broadcast, once, so that every later reader can rely on them.
func (s *Store) ensureSummaries() error {
	exists := false
	if err := s.view(func(tx *bolt.Tx) error {
		exists = tx.Bucket(bucketSummaries) != nil
		return nil
	}); err != nil || exists {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		sb, err := tx.CreateBucket(bucketSummaries)
		if err != nil {
			return err
		}
		bb := tx.Bucket(bucketBroadcasts)
		if bb == nil {
			return nil
		}
		return bb.ForEach(func(k, v []byte) error {
			b, err := DecodeBroadcast(v)
			if err != nil {
				return nil // Broadcasts reports it; Open must not fail on it
			}
			m := summaryOf(b)
			// A journal that does not decode is left for its readers
			// to report.
			m.Counted = s.count(tx, &m) == nil && b.State != StateRunning
			w, err := encode(m)
			if err != nil {
				return err
			}
			return sb.Put(k, w)
		})
	})
}
