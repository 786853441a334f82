package store

// aftercare.go journals what happens to a broadcast after it went out:
// retracts and edits, per recipient, so that an interrupted one is finished
// by running it again without a needless call for recipients already done.

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BeginRetract records that broadcast id is being retracted, before the first
// message is deleted. The first time is kept.
func (s *Store) BeginRetract(id string, at time.Time) error {
	return s.changeBroadcast(id, func(b *Broadcast) {
		if b.RetractedAt.IsZero() {
			b.RetractedAt = at
		}
	})
}

// SetEdit records the text broadcast id is being edited to.
func (s *Store) SetEdit(id string, e Edit) error {
	if e.Digest == "" {
		return fmt.Errorf("set edit of %s: empty digest", id)
	}
	return s.changeBroadcast(id, func(b *Broadcast) { b.Edit = &e })
}

// MarkRetracted records that the messages of every peer in peerIDs were
// deleted, in one transaction (they went in one call).
func (s *Store) MarkRetracted(id string, peerIDs []int64, at time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		for _, p := range peerIDs {
			err := s.modifyEntry(tx, id, entryKey(p, ""), func(old Entry) (Entry, bool) {
				// A failed entry may hold the parts that did arrive.
				if len(old.Messages()) == 0 || !old.RetractedAt.IsZero() {
					return old, false
				}
				old.RetractedAt, old.ChangeError, old.UpdatedAt = at, "", at
				return old, true
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark retracted %s: %w", id, err)
	}
	return nil
}

// MarkEdited records that peerID's message now carries edit digest.
func (s *Store) MarkEdited(id string, peerID int64, digest string, at time.Time) error {
	return <-s.MarkEditedAsync(id, peerID, digest, at)
}

// MarkEditedAsync is MarkEdited for a caller that goes on meanwhile: the
// result arrives on the channel once committed.
func (s *Store) MarkEditedAsync(id string, peerID int64, digest string, at time.Time) <-chan error {
	return s.batchResult(func(tx *bolt.Tx) error {
		return s.modifyEntry(tx, id, entryKey(peerID, ""), func(old Entry) (Entry, bool) {
			if old.Status != EntrySent {
				return old, false
			}
			old.Edit, old.EditedAt, old.ChangeError, old.UpdatedAt = digest, at, "", at
			return old, true
		})
	}, func(err error) error { return fmt.Errorf("mark edited %s/%d: %w", id, peerID, err) })
}

// MarkChangeFailed records why a retract or edit failed for peerID. The
// entry stays sent: the message is still there.
func (s *Store) MarkChangeFailed(id string, peerID int64, errText string) error {
	err := s.batch(func(tx *bolt.Tx) error {
		return s.modifyEntry(tx, id, entryKey(peerID, ""), func(old Entry) (Entry, bool) {
			if old.Status != EntrySent {
				return old, false
			}
			old.ChangeError, old.UpdatedAt = errText, s.now()
			return old, true
		})
	})
	if err != nil {
		return fmt.Errorf("mark change failed %s/%d: %w", id, peerID, err)
	}
	return nil
}

// changeBroadcast applies change to broadcast id's record in one
// transaction.
func (s *Store) changeBroadcast(id string, change func(*Broadcast)) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := s.getBroadcast(tx, id)
		if err != nil {
			return err
		}
		change(&b)
		b.UpdatedAt = s.now()
		return s.putBroadcast(tx, b, false)
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("broadcast %s: %w", id, err)
	}
	return err
}
