package store

import (
	"bytes"
	"testing"
	"time"
)

func FuzzDecodeEntry(f *testing.F) {
	good, err := encodeEntry(Entry{Recipient: "@a", PeerID: 1, Status: EntrySent, MessageID: 5, Attempts: 1, UpdatedAt: time.Unix(1, 2).UTC()})
	if err != nil {
		f.Fatal(err)
	}
	split, err := encodeEntry(Entry{Recipient: "@b", PeerID: -1001, Status: EntrySent, MessageID: 5, MessageIDs: []int{5, 6}, Attempts: 2,
		UpdatedAt: time.Unix(3, 0), SentAt: time.Unix(2, 0), RetractedAt: time.Unix(4, 0), Edit: "d", EditedAt: time.Unix(5, 0), ChangeError: "x"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good,
		split,
		[]byte(`{"recipient":"@a","peer_id":1,"status":"sent","message_id":5,"attempts":1,"updated_at":"0001-01-01T00:00:00Z"}`),
		[]byte(`{"status":"sent","updated_at":"3000-01-01T00:00:00Z"}`),
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
		b1, err := encodeEntry(e)
		if err != nil {
			t.Fatalf("encode %+v: %v", e, err)
		}
		e2, err := DecodeEntry(b1)
		if err != nil {
			t.Fatalf("decode own encoding %s: %v", b1, err)
		}
		b2, _ := encodeEntry(e2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed %x to %x", b1, b2)
		}
	})
}

func FuzzDecodePeer(f *testing.F) {
	good, err := encodePeer(Peer{Kind: KindChannel, ID: -1002004, AccessHash: 7, Username: "club", FirstName: "Club", ResolvedAt: time.Unix(9, 1), Megagroup: true, Forum: true})
	if err != nil {
		f.Fatal(err)
	}
	ref, err := encodePeerRef(1001)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good, ref,
		[]byte(`{"kind":"user","id":1001,"access_hash":2,"username":"friend1","first_name":"Alice","resolved_at":"2026-12-02T03:45:48.564487655Z"}`),
		{0xa1, 0x01, 0x00},             // a reference to id 0
		{0xa2, 0x01, 0x01, 0x03, 0x01}, // a reference with a peer's field
		{0xbf, 0xff},                   // an indefinite-length map
		{0xa0},
		[]byte(``),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ref, err := decodePeer(b)
		if err != nil || isJSON(b) {
			return
		}
		var b1 []byte
		if ref != 0 {
			b1, err = encodePeerRef(ref)
		} else {
			b1, err = encodePeer(p)
		}
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		p2, ref2, err := decodePeer(b1)
		if err != nil || ref2 != ref || p2.ID != p.ID || !p2.ResolvedAt.Equal(p.ResolvedAt) {
			t.Fatalf("round trip of %x: %+v %d %v, then %+v %d", b, p, ref, err, p2, ref2)
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
