package store

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BroadcastState is where a broadcast stands.
type BroadcastState string

// Broadcast states.
const (
	// StateRunning: a process is sending it, or crashed while doing so.
	StateRunning BroadcastState = "running"
	// StateFinished: every recipient was sent to or failed.
	StateFinished BroadcastState = "finished"
	// StateStopped: Telegram stopped the run (PEER_FLOOD, auth lost).
	StateStopped BroadcastState = "stopped"
	// StateInterrupted: the user or a signal stopped the run.
	StateInterrupted BroadcastState = "interrupted"
)

func (st BroadcastState) valid() bool {
	switch st {
	case StateRunning, StateFinished, StateStopped, StateInterrupted:
		return true
	}
	return false
}

// Broadcast is the journal record of one run of sending one message to a
// list of recipients.
type Broadcast struct {
	ID        string `json:"id"`
	BaseID    string `json:"base_id"` // the derived id without the run number
	Run       int    `json:"run"`
	AccountID int64  `json:"account_id"`

	// Text is the message, for history display and resume.
	Text string `json:"text"`
	// Spec is what the caller needs to resume the run (what was sent and
	// how). The store does not interpret it.
	Spec SpecBytes `json:"spec,omitempty"`
	// Recipients are the recipients as given.
	Recipients []string `json:"recipients"`

	State     BroadcastState `json:"state"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`

	// Edit is the text the broadcast's messages are being changed to by
	// `broadcast edit` (nil: never edited). A recipient whose entry carries
	// its Digest has it.
	Edit *Edit `json:"edit,omitempty"`
	// RetractedAt is when a retract of the broadcast began (zero: never).
	// It is set before the first message is deleted, so a crash mid-retract
	// still keeps the broadcast from being resumed or re-sent.
	RetractedAt time.Time `json:"retracted_at,omitzero"`
}

// Edit is the latest text `broadcast edit` gave a broadcast.
type Edit struct {
	Text      string    `json:"text"`
	ParseMode string    `json:"parse_mode"`
	Digest    string    `json:"digest"`
	At        time.Time `json:"at"`
}

// EntryStatus is where delivery to one recipient stands.
type EntryStatus string

// Entry statuses. Sent is final: nothing downgrades it, because a sent
// entry is what stops a resumed run from sending twice.
const (
	// EntryPending: about to be sent, or possibly sent by a run that
	// crashed before it could record the result.
	EntryPending EntryStatus = "pending"
	// EntrySent: Telegram accepted the message.
	EntrySent EntryStatus = "sent"
	// EntryFailed: the last attempt failed; Error says why.
	EntryFailed EntryStatus = "failed"
)

func (st EntryStatus) valid() bool {
	switch st {
	case EntryPending, EntrySent, EntryFailed:
		return true
	}
	return false
}

// Entry is the journal record of delivery to one recipient of a broadcast.
type Entry struct {
	Recipient string      `json:"recipient"`
	PeerID    int64       `json:"peer_id"`
	Status    EntryStatus `json:"status"`
	MessageID int         `json:"message_id,omitempty"` // the first part's
	// MessageIDs are every part's message id, in order, when the broadcast
	// went out as more than one message (a split text, an album).
	MessageIDs []int     `json:"message_ids,omitempty"`
	Error      string    `json:"error,omitempty"`
	Attempts   int       `json:"attempts"` // MarkPending calls so far
	UpdatedAt  time.Time `json:"updated_at"`
	SentAt     time.Time `json:"sent_at,omitzero"`

	// After sending: when the message was deleted for the recipient, which
	// edit (Edit.Digest) it now carries and when, and why the last retract
	// or edit for this recipient failed.
	RetractedAt time.Time `json:"retracted_at,omitzero"`
	Edit        string    `json:"edit,omitempty"`
	EditedAt    time.Time `json:"edited_at,omitzero"`
	ChangeError string    `json:"change_error,omitempty"`
}

// Messages returns the ids of every message the recipient was sent.
func (e Entry) Messages() []int {
	switch {
	case len(e.MessageIDs) > 0:
		return e.MessageIDs
	case e.MessageID != 0:
		return []int{e.MessageID}
	}
	return nil
}

// Sent is when the recipient's message went out: SentAt, or for entries
// journaled before it was kept, the last change to the entry before any
// retract or edit.
func (e Entry) Sent() time.Time {
	if !e.SentAt.IsZero() {
		return e.SentAt
	}
	return e.UpdatedAt
}

// SaveBroadcast creates or replaces the broadcast record b.ID. An empty
// State means StateRunning, a zero CreatedAt means now, and UpdatedAt is
// always set to now.
func (s *Store) SaveBroadcast(b Broadcast) error {
	if b.ID == "" {
		return errors.New("save broadcast: empty id")
	}
	if b.State == "" {
		b.State = StateRunning
	}
	if !b.State.valid() {
		return fmt.Errorf("save broadcast %s: invalid state %q", b.ID, b.State)
	}
	now := s.now()
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now
	}
	b.UpdatedAt = now
	err := s.update(func(tx *bolt.Tx) error { return s.putBroadcast(tx, b, false) })
	if err != nil {
		return fmt.Errorf("save broadcast %s: %w", b.ID, err)
	}
	return nil
}

// LoadBroadcast returns broadcast id, or an error wrapping ErrNotFound.
func (s *Store) LoadBroadcast(id string) (Broadcast, error) {
	var b Broadcast
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		b, err = s.getBroadcast(tx, id)
		return err
	})
	if err != nil {
		return Broadcast{}, fmt.Errorf("broadcast %s: %w", id, err)
	}
	return b, nil
}

// Broadcasts returns every broadcast, newest first.
func (s *Store) Broadcasts() ([]Broadcast, error) {
	var list []Broadcast
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBroadcasts).ForEach(func(k, v []byte) error {
			b, err := DecodeBroadcast(v)
			if err != nil {
				return corrupt(s.path, "broadcast %q: %w", k, err)
			}
			list = append(list, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	slices.SortFunc(list, func(a, b Broadcast) int {
		return cmp.Or(
			b.CreatedAt.Compare(a.CreatedAt),
			cmp.Compare(b.Run, a.Run),
			strings.Compare(b.ID, a.ID),
		)
	})
	return list, nil
}

// LatestRun returns the broadcast with the highest Run among those with
// the given BaseID, and whether there is any.
func (s *Store) LatestRun(baseID string) (Broadcast, bool, error) {
	var (
		latest Broadcast
		found  bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		// The summaries say which run is the latest without decoding
		// every broadcast's recipient list.
		if sb := tx.Bucket(bucketSummaries); sb != nil {
			id, run := "", 0
			err := sb.ForEach(func(k, v []byte) error {
				var m Summary
				if err := json.Unmarshal(v, &m); err != nil {
					return corrupt(s.path, "summary %q: %w", k, err)
				}
				if m.BaseID == baseID && (id == "" || m.Run > run) {
					id, run = m.ID, m.Run
				}
				return nil
			})
			if err != nil || id == "" {
				return err
			}
			latest, err = s.getBroadcast(tx, id)
			found = err == nil
			return err
		}
		return tx.Bucket(bucketBroadcasts).ForEach(func(k, v []byte) error {
			b, err := DecodeBroadcast(v)
			if err != nil {
				return corrupt(s.path, "broadcast %q: %w", k, err)
			}
			if b.BaseID == baseID && (!found || b.Run > latest.Run) {
				latest, found = b, true
			}
			return nil
		})
	})
	if err != nil {
		return Broadcast{}, false, fmt.Errorf("latest run of %s: %w", baseID, err)
	}
	return latest, found, nil
}

// SetState changes the state of broadcast id.
func (s *Store) SetState(id string, st BroadcastState) error {
	if !st.valid() {
		return fmt.Errorf("set state of %s: invalid state %q", id, st)
	}
	now := s.now()
	err := s.update(func(tx *bolt.Tx) error {
		b, err := s.getBroadcast(tx, id)
		if err != nil {
			return err
		}
		b.State, b.UpdatedAt = st, now
		// A run that ends is counted once, for history.
		return s.putBroadcast(tx, b, st != StateRunning)
	})
	if err != nil {
		return fmt.Errorf("set state of %s: %w", id, err)
	}
	return nil
}

// MarkPending records that e.Recipient (peer e.PeerID) is about to be sent
// to, counting an attempt. Only Recipient and PeerID are taken from e. A
// sent entry is left as it is. A failure recorded for e.Recipient before it
// had a peer id (see MarkFailed) is dropped, so that the journal holds one
// entry per recipient. Broadcast id must exist.
func (s *Store) MarkPending(id string, e Entry) error { return <-s.MarkPendingAsync(id, e) }

// MarkPendingAsync is MarkPending for a caller that goes on meanwhile: the
// result arrives on the channel once committed.
func (s *Store) MarkPendingAsync(id string, e Entry) <-chan error {
	if e.PeerID == 0 {
		return failed(fmt.Errorf("mark pending %s: %s: no peer id", id, e.Recipient))
	}
	now := s.now()
	return s.batchResult(func(tx *bolt.Tx) error {
		err := s.modifyEntry(tx, id, entryKey(e.PeerID, ""), func(old Entry) (Entry, bool) {
			if old.Status == EntrySent {
				return old, false
			}
			return Entry{
				Recipient: e.Recipient,
				PeerID:    e.PeerID,
				Status:    EntryPending,
				Attempts:  old.Attempts + 1,
				UpdatedAt: now,
			}, true
		})
		if err != nil || e.Recipient == "" {
			return err
		}
		return tx.Bucket(bucketJournal).Bucket([]byte(id)).Delete(entryKey(0, e.Recipient))
	}, func(err error) error { return fmt.Errorf("mark pending %s/%d: %w", id, e.PeerID, err) })
}

// MarkSent records that Telegram accepted the message to peerID, with the
// ids of its parts. An entry is created if MarkPending was skipped, since
// losing a sent record would mean sending twice on resume. An entry already
// sent keeps its first message ids.
func (s *Store) MarkSent(id string, peerID int64, messageIDs ...int) error {
	return <-s.MarkSentAsync(id, peerID, messageIDs...)
}

// MarkSentAsync is MarkSent for a caller that goes on meanwhile: the result
// arrives on the channel once committed.
func (s *Store) MarkSentAsync(id string, peerID int64, messageIDs ...int) <-chan error {
	if peerID == 0 {
		return failed(fmt.Errorf("mark sent %s: no peer id", id))
	}
	now := s.now()
	messageIDs = slices.Clone(messageIDs) // the caller's slice may change before the commit
	return s.batchResult(func(tx *bolt.Tx) error {
		return s.modifyEntry(tx, id, entryKey(peerID, ""), func(old Entry) (Entry, bool) {
			if old.Status == EntrySent {
				return old, false
			}
			e := old
			e.PeerID = peerID
			e.Status = EntrySent
			e.MessageID, e.MessageIDs = 0, nil
			if len(messageIDs) > 0 {
				e.MessageID = messageIDs[0]
			}
			if len(messageIDs) > 1 {
				e.MessageIDs = messageIDs
			}
			e.SentAt = now
			e.Error = ""
			e.Attempts = max(e.Attempts, 1)
			e.UpdatedAt = now
			return e, true
		})
	}, func(err error) error { return fmt.Errorf("mark sent %s/%d: %w", id, peerID, err) })
}

// MarkPartsDelivered records the ids of the parts of a message Telegram
// accepted before a later part failed, so that they can still be retracted.
// The entry's status is left as it is; a sent entry is not touched.
func (s *Store) MarkPartsDelivered(id string, peerID int64, messageIDs []int) error {
	if peerID == 0 || len(messageIDs) == 0 {
		return nil
	}
	err := s.batch(func(tx *bolt.Tx) error {
		return s.modifyEntry(tx, id, entryKey(peerID, ""), func(old Entry) (Entry, bool) {
			if old.Status == EntrySent {
				return old, false
			}
			old.MessageID, old.MessageIDs = messageIDs[0], slices.Clone(messageIDs)
			return old, true
		})
	})
	if err != nil {
		return fmt.Errorf("mark parts delivered %s/%d: %w", id, peerID, err)
	}
	return nil
}

// MarkFailed records that delivery to recipient (peer peerID) failed with
// errText. It never downgrades a sent entry.
//
// peerID may be 0 for a recipient that could not be resolved; such entries
// are keyed by recipient instead, so they do not overwrite one another.
// They appear in Entries but cannot be fetched with Entry.
func (s *Store) MarkFailed(id string, peerID int64, recipient, errText string) error {
	if peerID == 0 && recipient == "" {
		return fmt.Errorf("mark failed %s: neither peer id nor recipient", id)
	}
	now := s.now()
	err := s.batch(func(tx *bolt.Tx) error {
		return s.modifyEntry(tx, id, entryKey(peerID, recipient), func(old Entry) (Entry, bool) {
			if old.Status == EntrySent {
				return old, false
			}
			e := old
			e.PeerID = peerID
			if recipient != "" {
				e.Recipient = recipient
			}
			e.Status = EntryFailed
			e.Error = errText
			e.UpdatedAt = now
			return e, true
		})
	})
	if err != nil {
		return fmt.Errorf("mark failed %s/%d: %w", id, peerID, err)
	}
	return nil
}

// Entry returns the journal entry for peerID in broadcast id, and whether
// there is one.
func (s *Store) Entry(id string, peerID int64) (Entry, bool, error) {
	var (
		e  Entry
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		j := tx.Bucket(bucketJournal).Bucket([]byte(id))
		if j == nil {
			return nil
		}
		v := j.Get(entryKey(peerID, ""))
		if v == nil {
			return nil
		}
		var err error
		if e, err = DecodeEntry(v); err != nil {
			return corrupt(s.path, "entry %s/%d: %w", id, peerID, err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("entry %s/%d: %w", id, peerID, err)
	}
	return e, ok, nil
}

// Entries returns every journal entry of broadcast id, ordered by peer id
// (unresolved recipients first). It returns an error wrapping ErrNotFound
// if there is no such broadcast.
func (s *Store) Entries(id string) ([]Entry, error) {
	var list []Entry
	err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketBroadcasts).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		j := tx.Bucket(bucketJournal).Bucket([]byte(id))
		if j == nil {
			return nil
		}
		return j.ForEach(func(k, v []byte) error {
			e, err := DecodeEntry(v)
			if err != nil {
				return corrupt(s.path, "entry %s/%x: %w", id, k, err)
			}
			list = append(list, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("entries of %s: %w", id, err)
	}
	return list, nil
}

// getBroadcast reads and decodes broadcast id inside tx.
func (s *Store) getBroadcast(tx *bolt.Tx, id string) (Broadcast, error) {
	v := tx.Bucket(bucketBroadcasts).Get([]byte(id))
	if v == nil {
		return Broadcast{}, ErrNotFound
	}
	b, err := DecodeBroadcast(v)
	if err != nil {
		return Broadcast{}, corrupt(s.path, "broadcast %q: %w", id, err)
	}
	return b, nil
}

// modifyEntry applies change to the entry at key in the journal of
// broadcast id and writes the result if change says so. It runs inside a
// batch, so it may run more than once; it reads everything it needs from tx.
func (s *Store) modifyEntry(tx *bolt.Tx, id string, key []byte, change func(old Entry) (Entry, bool)) error {
	if tx.Bucket(bucketBroadcasts).Get([]byte(id)) == nil {
		return fmt.Errorf("broadcast %s: %w", id, ErrNotFound)
	}
	j, err := tx.Bucket(bucketJournal).CreateBucketIfNotExists([]byte(id))
	if err != nil {
		return err
	}
	j.FillPercent = journalFill
	var old Entry
	v := j.Get(key)
	if v != nil {
		if old, err = DecodeEntry(v); err != nil {
			return corrupt(s.path, "entry %s/%x: %w", id, key, err)
		}
	}
	e, write := change(old)
	if !write {
		return nil
	}
	if v, err = encodeEntry(e); err != nil {
		return err
	}
	return j.Put(key, v)
}

// entryKey is the journal key of a peer: its id as 8 bytes big-endian, so
// that entries iterate in peer id order. A recipient that has no peer id
// (it failed to resolve) gets zero bytes followed by its name.
func entryKey(peerID int64, recipient string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(recipient)), uint64(peerID))
	if peerID == 0 {
		k = append(k, recipient...)
	}
	return k
}
