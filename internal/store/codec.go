package store

import (
	"encoding/json"
	"errors"
	"fmt"
)

// encode is the on-disk form of a record.
func encode(v any) ([]byte, error) { return json.Marshal(v) }

// DecodeEntry decodes a journal entry as stored in the database. It
// returns an error, never panics, for input that is not a valid entry,
// including one with an unknown status.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, err
	}
	if !e.Status.valid() {
		return Entry{}, fmt.Errorf("invalid entry status %q", e.Status)
	}
	if e.Attempts < 0 {
		return Entry{}, fmt.Errorf("invalid attempt count %d", e.Attempts)
	}
	return e, nil
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
