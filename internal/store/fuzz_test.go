package store

import (
	"bytes"
	"testing"
	"time"
)

func FuzzDecodeEntry(f *testing.F) {
	good, err := encode(Entry{Recipient: "@a", PeerID: 1, Status: EntrySent, MessageID: 5, Attempts: 1, UpdatedAt: time.Unix(1, 2).UTC()})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good,
		[]byte(`{"recipient":"@x","peer_id":-100,"status":"failed","error":"FLOOD_WAIT_3","attempts":3,"updated_at":"2025-01-01T00:00:00+01:00"}`),
		[]byte(`{"status":"pending"}`),
		[]byte(`{"status":"bogus"}`),
		[]byte(`{"attempts":-1,"status":"sent"}`),
		[]byte(`null`),
		[]byte(`[]`),
		[]byte(``),
		[]byte("\x00\xff"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		// What decodes must survive a round trip unchanged.
		b1, err := encode(e)
		if err != nil {
			t.Fatalf("encode %+v: %v", e, err)
		}
		e2, err := DecodeEntry(b1)
		if err != nil {
			t.Fatalf("decode own encoding %s: %v", b1, err)
		}
		b2, _ := encode(e2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed %s to %s", b1, b2)
		}
	})
}

func FuzzDecodeBroadcast(f *testing.F) {
	good, err := encode(Broadcast{ID: "a-1", BaseID: "a", Run: 1, Text: "hi", Spec: []byte(`{}`), Recipients: []string{"@a"}, State: StateFinished})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{good, []byte(`{"id":"x","state":"running"}`), []byte(`{"id":""}`), []byte(`{`)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeBroadcast(b)
		if err != nil {
			return
		}
		b1, err := encode(r)
		if err != nil {
			t.Fatalf("encode %+v: %v", r, err)
		}
		if _, err := DecodeBroadcast(b1); err != nil {
			t.Fatalf("decode own encoding %s: %v", b1, err)
		}
	})
}
