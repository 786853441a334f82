package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Records written for every recipient of every broadcast (journal entries)
// and every peer ever resolved (the peer cache) are CBOR maps with small
// integer keys: a sent entry takes about 40 bytes instead of 170 as JSON,
// and the pages bbolt maps while a run writes 10,000 of them shrink alike.
// Integer keys, like protobuf's field numbers, let a later version add
// fields that this one skips. Records written before (schema 1) are JSON
// and still read: JSON starts with '{', a CBOR map of up to 23 keys with a
// byte from 0xa0 to 0xb7. Broadcast records, summaries and the session,
// a few per broadcast, stay JSON.

// diskEntry is an Entry as stored. Times are Unix nanoseconds, absent for
// none (the epoch itself is 0, and present).
type diskEntry struct {
	Recipient   string `cbor:"1,keyasint,omitempty"`
	PeerID      int64  `cbor:"2,keyasint,omitempty"`
	Status      uint8  `cbor:"3,keyasint,omitempty"` // index in diskStatuses
	MessageID   int    `cbor:"4,keyasint,omitempty"`
	MessageIDs  []int  `cbor:"5,keyasint,omitempty"`
	Error       string `cbor:"6,keyasint,omitempty"`
	Attempts    int    `cbor:"7,keyasint,omitempty"`
	UpdatedAt   *int64 `cbor:"8,keyasint,omitempty"`
	SentAt      *int64 `cbor:"9,keyasint,omitempty"`
	RetractedAt *int64 `cbor:"10,keyasint,omitempty"`
	Edit        string `cbor:"11,keyasint,omitempty"`
	EditedAt    *int64 `cbor:"12,keyasint,omitempty"`
	ChangeError string `cbor:"13,keyasint,omitempty"`
	// SentWhenUpdated stands for a SentAt equal to UpdatedAt, as it is when
	// an entry is marked sent: 2 bytes instead of 10.
	SentWhenUpdated bool `cbor:"14,keyasint,omitempty"`
}

// diskStatuses are the entry statuses as numbered on disk: the index is
// the number (0 is none).
var diskStatuses = [...]EntryStatus{1: EntryPending, 2: EntrySent, 3: EntryFailed}

// diskPeer is a peer-cache record as stored: a whole Peer under its id key
// ("id:<ID>"), or under any other key (a name, a phone) only Ref, the id
// whose record it is, so that a peer is stored once however many keys it
// is known by. Kind is empty for a user, the most common.
type diskPeer struct {
	Ref        int64  `cbor:"1,keyasint,omitempty"`
	Kind       string `cbor:"2,keyasint,omitempty"`
	ID         int64  `cbor:"3,keyasint,omitempty"`
	AccessHash int64  `cbor:"4,keyasint,omitempty"`
	Username   string `cbor:"5,keyasint,omitempty"`
	FirstName  string `cbor:"6,keyasint,omitempty"`
	LastName   string `cbor:"7,keyasint,omitempty"`
	Phone      string `cbor:"8,keyasint,omitempty"`
	ResolvedAt *int64 `cbor:"9,keyasint,omitempty"`
	Megagroup  bool   `cbor:"10,keyasint,omitempty"`
	Forum      bool   `cbor:"11,keyasint,omitempty"`
}

var (
	// cborEnc sorts map keys, so that one record always has one encoding.
	cborEnc = must(cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode())
	// cborDec refuses what no version of this package writes: duplicate
	// keys, indefinite lengths, tags. Its default size limits bound what a
	// damaged record can make it allocate.
	cborDec = must(cbor.DecOptions{
		DupMapKey:   cbor.DupMapKeyEnforcedAPF,
		IndefLength: cbor.IndefLengthForbidden,
		TagsMd:      cbor.TagsForbidden,
	}.DecMode())
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// encode is the on-disk form of a record kept as JSON.
func encode(v any) ([]byte, error) { return json.Marshal(v) }

// isJSON reports whether a stored record is in the JSON of schema 1.
func isJSON(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// errTimeRange is a stored time that Unix nanoseconds cannot hold: no
// clock this program ran under, so a damaged record.
var errTimeRange = errors.New("time out of range")

// unixNano is t for the disk: nil for the zero time, else Unix nanoseconds.
func unixNano(t time.Time) (*int64, error) {
	if t.IsZero() {
		return nil, nil
	}
	// UnixNano is undefined outside 1678–2261.
	if y := t.Year(); y < 1678 || y > 2261 {
		return nil, fmt.Errorf("%w: %s", errTimeRange, t)
	}
	n := t.UnixNano()
	return &n, nil
}

// fromUnixNano is the time stored as n.
func fromUnixNano(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n)
}

// encodeEntry is the on-disk form of a journal entry.
func encodeEntry(e Entry) ([]byte, error) {
	st := slices.Index(diskStatuses[:], e.Status)
	if st <= 0 {
		return nil, fmt.Errorf("entry %s: invalid status %q", e.Recipient, e.Status)
	}
	d := diskEntry{
		Recipient: e.Recipient, PeerID: e.PeerID, Status: uint8(st),
		MessageID: e.MessageID, MessageIDs: e.MessageIDs, Error: e.Error, Attempts: e.Attempts,
		Edit: e.Edit, ChangeError: e.ChangeError,
	}
	var err error
	for _, t := range []struct {
		to   **int64
		from time.Time
	}{{&d.UpdatedAt, e.UpdatedAt}, {&d.SentAt, e.SentAt}, {&d.RetractedAt, e.RetractedAt}, {&d.EditedAt, e.EditedAt}} {
		if *t.to, err = unixNano(t.from); err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.Recipient, err)
		}
	}
	if d.SentAt != nil && d.UpdatedAt != nil && *d.SentAt == *d.UpdatedAt {
		d.SentAt, d.SentWhenUpdated = nil, true
	}
	return cborEnc.Marshal(d)
}

// DecodeEntry decodes a journal entry as stored in the database, in either
// format. It returns an error, never panics, for input that is not a valid
// entry, including one with an unknown status.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	if isJSON(b) {
		if err := json.Unmarshal(b, &e); err != nil {
			return Entry{}, err
		}
		// What cannot be written back is damage, not a journal.
		for _, t := range []time.Time{e.UpdatedAt, e.SentAt, e.RetractedAt, e.EditedAt} {
			if _, err := unixNano(t); err != nil {
				return Entry{}, err
			}
		}
	} else {
		var d diskEntry
		if err := cborDec.Unmarshal(b, &d); err != nil {
			return Entry{}, err
		}
		if d.SentWhenUpdated {
			if d.SentAt != nil || d.UpdatedAt == nil {
				return Entry{}, errors.New("sent time given twice, or without an update time")
			}
			d.SentAt = d.UpdatedAt
		}
		var status EntryStatus // none, hence invalid, unless numbered
		if int(d.Status) < len(diskStatuses) {
			status = diskStatuses[d.Status]
		}
		e = Entry{
			Recipient: d.Recipient, PeerID: d.PeerID, Status: status,
			MessageID: d.MessageID, MessageIDs: d.MessageIDs, Error: d.Error, Attempts: d.Attempts,
			UpdatedAt: fromUnixNano(d.UpdatedAt), SentAt: fromUnixNano(d.SentAt),
			RetractedAt: fromUnixNano(d.RetractedAt), Edit: d.Edit,
			EditedAt: fromUnixNano(d.EditedAt), ChangeError: d.ChangeError,
		}
	}
	if !e.Status.valid() {
		return Entry{}, fmt.Errorf("invalid entry status %q", e.Status)
	}
	if e.Attempts < 0 {
		return Entry{}, fmt.Errorf("invalid attempt count %d", e.Attempts)
	}
	if len(e.MessageIDs) == 0 {
		e.MessageIDs = nil // one form for "none", whichever format said it
	}
	return e, nil
}

// encodePeer is the on-disk form of a whole peer-cache record.
func encodePeer(p Peer) ([]byte, error) {
	at, err := unixNano(p.ResolvedAt)
	if err != nil {
		return nil, fmt.Errorf("peer %d: %w", p.ID, err)
	}
	kind := p.Kind
	if kind == KindUser {
		kind = ""
	}
	return cborEnc.Marshal(diskPeer{
		Kind: kind, ID: p.ID, AccessHash: p.AccessHash, Username: p.Username,
		FirstName: p.FirstName, LastName: p.LastName, Phone: p.Phone, ResolvedAt: at,
		Megagroup: p.Megagroup, Forum: p.Forum,
	})
}

// encodePeerRef is the on-disk form of a key that names the peer whose
// record is under idKey(id).
func encodePeerRef(id int64) ([]byte, error) { return cborEnc.Marshal(diskPeer{Ref: id}) }

// decodePeer decodes a peer-cache record in either format: a whole peer,
// or (ref != 0) a reference to the record under idKey(ref).
func decodePeer(b []byte) (p Peer, ref int64, err error) {
	if isJSON(b) {
		if err := json.Unmarshal(b, &p); err != nil {
			return Peer{}, 0, err
		}
		return p, 0, nil
	}
	var d diskPeer
	if err := cborDec.Unmarshal(b, &d); err != nil {
		return Peer{}, 0, err
	}
	if d.Ref != 0 {
		if d != (diskPeer{Ref: d.Ref}) {
			return Peer{}, 0, errors.New("peer reference with peer fields")
		}
		return Peer{}, d.Ref, nil
	}
	if d.ID == 0 {
		return Peer{}, 0, errors.New("peer without id")
	}
	if d.Kind == "" {
		d.Kind = KindUser
	}
	return Peer{
		Kind: d.Kind, ID: d.ID, AccessHash: d.AccessHash, Username: d.Username,
		FirstName: d.FirstName, LastName: d.LastName, Phone: d.Phone,
		ResolvedAt: fromUnixNano(d.ResolvedAt), Megagroup: d.Megagroup, Forum: d.Forum,
	}, 0, nil
}

// SpecBytes is Broadcast.Spec: opaque bytes that are, in practice, a JSON
// object. Such an object is stored as it is, not as a base64 string a third
// longer, as encoding/json writes a []byte; anything else, and what schema 1
// wrote, is base64.
type SpecBytes []byte

// MarshalJSON writes a JSON object as it is, anything else as base64.
func (b SpecBytes) MarshalJSON() ([]byte, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t, nil
	}
	return json.Marshal([]byte(b))
}

// UnmarshalJSON reads either form.
func (b *SpecBytes) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		*b = append(SpecBytes(nil), t...)
		return nil
	}
	var raw []byte
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*b = raw
	return nil
}

// DecodeBroadcast decodes a broadcast record as stored in the database. It
// returns an error, never panics, for input that is not a valid record,
// including one without an id or with an unknown state.
func DecodeBroadcast(b []byte) (Broadcast, error) {
	var r Broadcast
	if err := json.Unmarshal(b, &r); err != nil {
		return Broadcast{}, err
	}
	if r.ID == "" {
		return Broadcast{}, errors.New("broadcast without id")
	}
	if !r.State.valid() {
		return Broadcast{}, fmt.Errorf("invalid broadcast state %q", r.State)
	}
	return r, nil
}
