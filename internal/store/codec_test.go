package store

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A database written by the previous version (schema 1: JSON records, a
// peer copied under each of its keys) is read as it is, and raised to
// schema 2 so that an older binary refuses it once it holds CBOR records.
func TestSchema1DatabaseIsReadAndUpgraded(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	if err := s.SaveBroadcast(Broadcast{ID: "b-1", BaseID: "b", Run: 1, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	friend := `{"kind":"user","id":123,"access_hash":-9,"username":"friend1","first_name":"Alice","resolved_at":"2026-12-01T10:00:00Z"}`
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keySchema, []byte("1")); err != nil {
			return err
		}
		peers := tx.Bucket(bucketPeers)
		for _, k := range []string{"@friend1", "id:123"} {
			if err := peers.Put([]byte(k), []byte(friend)); err != nil {
				return err
			}
		}
		j, err := tx.Bucket(bucketJournal).CreateBucketIfNotExists([]byte("b-1"))
		if err != nil {
			return err
		}
		if err := j.Put(entryKey(123, ""), []byte(`{"recipient":"@friend1","peer_id":123,"status":"pending","attempts":1,"updated_at":"2026-12-01T10:00:01Z"}`)); err != nil {
			return err
		}
		return j.Put(entryKey(456, ""), []byte(`{"recipient":"@bob","peer_id":456,"status":"sent","message_id":7,"attempts":1,"updated_at":"2026-12-01T10:00:02Z"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	if v := schemaOf(t, s); v != schemaVersion {
		t.Errorf("schema after opening for writing: %d, want %d", v, schemaVersion)
	}
	p, ok, err := s.LookupPeer("@friend1")
	if err != nil || !ok || p.ID != 123 || p.FirstName != "Alice" || p.AccessHash != -9 {
		t.Fatalf("schema 1 peer: %+v, %v, %v", p, ok, err)
	}
	es, err := s.Entries("b-1")
	if err != nil || len(es) != 2 || es[1].MessageID != 7 || es[1].Status != EntrySent {
		t.Fatalf("schema 1 entries: %+v, %v", es, err)
	}
	// A change writes the new format, which reads back the same.
	if err := s.MarkSent("b-1", 123, 8, 9); err != nil {
		t.Fatal(err)
	}
	e, ok, err := s.Entry("b-1", 123)
	if err != nil || !ok || e.Status != EntrySent || e.MessageID != 8 || len(e.MessageIDs) != 2 || e.Attempts != 1 || e.Recipient != "@friend1" {
		t.Fatalf("entry after MarkSent: %+v, %v, %v", e, ok, err)
	}
	if raw := rawRecord(t, s, bucketJournal, "b-1", entryKey(123, "")); isJSON(raw) {
		t.Errorf("MarkSent wrote JSON: %s", raw)
	}

	// A peer known by schema 1's copies and by a new name is forgotten
	// under all of them.
	if err := s.SavePeer("+15550000001", p); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetPeer("+15550000001"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"@friend1", "id:123", "+15550000001"} {
		if _, ok, err := s.LookupPeer(k); ok || err != nil {
			t.Errorf("LookupPeer(%s) after ForgetPeer: %v, %v", k, ok, err)
		}
	}
}

// A peer is stored once, under its id; every other key it is known by holds
// only a reference, a few bytes.
func TestPeerStoredOnce(t *testing.T) {
	s := open(t, stateDir(t))
	p := Peer{Kind: KindUser, ID: 1001, AccessHash: 2804324573886585992, Username: "friend1", FirstName: "Alice", LastName: "Friend1", Phone: "15550000001", ResolvedAt: time.Now()}
	for _, k := range []string{"@friend1", "+15550000001"} {
		if err := s.SavePeer(k, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.peerw.wait(); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPeers).ForEach(func(k, v []byte) error {
			sizes[string(k)] = len(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 || sizes["id:1001"] == 0 {
		t.Fatalf("peer cache keys: %v, want id:1001, @friend1 and +15550000001", sizes)
	}
	// JSON took 192 bytes for this peer under each key.
	if sizes["id:1001"] > 80 || sizes["@friend1"] > 8 || sizes["+15550000001"] > 8 {
		t.Errorf("record sizes %v: want the peer in at most 80 bytes and each reference in at most 8", sizes)
	}
	for _, k := range []string{"@friend1", "+15550000001", "id:1001"} {
		got, ok, err := s.LookupPeer(k)
		if err != nil || !ok || got.AccessHash != p.AccessHash || got.LastName != "Friend1" || !got.ResolvedAt.Equal(p.ResolvedAt) {
			t.Errorf("LookupPeer(%s) = %+v, %v, %v", k, got, ok, err)
		}
	}
	// A name whose record was forgotten under another key resolves again.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPeers).Delete([]byte("id:1001")) }); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.LookupPeer("@friend1"); ok || err != nil {
		t.Errorf("LookupPeer of a dangling reference: %v, %v; want not cached", ok, err)
	}
}

// A sent entry, written for every recipient of every broadcast, stays
// small: the pages a run of 10,000 writes and maps scale with it.
func TestSentEntryIsSmall(t *testing.T) {
	s := open(t, stateDir(t))
	if err := s.SaveBroadcast(Broadcast{ID: "b-1", BaseID: "b", Run: 1, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending("b-1", Entry{Recipient: "@friend1234", PeerID: 2234}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent("b-1", 2234, 123456); err != nil {
		t.Fatal(err)
	}
	// JSON took 175 bytes; the first CBOR form, 49.
	if raw := rawRecord(t, s, bucketJournal, "b-1", entryKey(2234, "")); len(raw) > 40 {
		t.Errorf("sent entry is %d bytes, want at most 40", len(raw))
	}
}

// Changes queued together share a commit, and one that fails costs only
// itself.
func TestSharedCommitIsolatesAFailure(t *testing.T) {
	s := open(t, stateDir(t))
	if err := s.SaveBroadcast(Broadcast{ID: "b-1", BaseID: "b", Run: 1, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	var results []<-chan error
	for i := 1; i <= 50; i++ {
		results = append(results, s.MarkPendingAsync("b-1", Entry{Recipient: "@f" + strconv.Itoa(i), PeerID: int64(i)}))
		if i == 25 {
			results = append(results, s.MarkPendingAsync("no-such-broadcast", Entry{Recipient: "@x", PeerID: 99}))
		}
	}
	for i, r := range results {
		err := <-r
		switch {
		case i == 25 && !errors.Is(err, ErrNotFound):
			t.Errorf("mark for a missing broadcast: %v, want ErrNotFound", err)
		case i != 25 && err != nil:
			t.Errorf("mark %d: %v", i, err)
		}
	}
	es, err := s.Entries("b-1")
	if err != nil || len(es) != 50 {
		t.Fatalf("entries: %d, %v; want 50", len(es), err)
	}
}

func schemaOf(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keySchema)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rawRecord is the stored bytes of key in bucket (or in its sub-bucket sub).
func rawRecord(t *testing.T, s *Store, bucket []byte, sub string, key []byte) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if sub != "" {
			b = b.Bucket([]byte(sub))
		}
		v = append([]byte(nil), b.Get(key)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A spec that is a JSON object is stored as it is, not as base64; other
// bytes, and schema 1's base64, still read back.
func TestSpecBytes(t *testing.T) {
	s := open(t, stateDir(t))
	spec := []byte(`{"text":"hi","recipients":["@a"]}`)
	if err := s.SaveBroadcast(Broadcast{ID: "b-1", BaseID: "b", Run: 1, Text: "hi", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if raw := rawRecord(t, s, bucketBroadcasts, "", []byte("b-1")); !strings.Contains(string(raw), `"spec":{"text":"hi"`) {
		t.Errorf("stored record %s: want the spec as JSON", raw)
	}
	for name, rec := range map[string]string{
		"object":   `{"id":"b-2","state":"finished","spec":{"text":"hi","recipients":["@a"]}}`,
		"schema 1": `{"id":"b-2","state":"finished","spec":"eyJ0ZXh0IjoiaGkiLCJyZWNpcGllbnRzIjpbIkBhIl19"}`,
	} {
		b, err := DecodeBroadcast([]byte(rec))
		if err != nil || string(b.Spec) != string(spec) {
			t.Errorf("%s: spec %q, %v; want %s", name, b.Spec, err, spec)
		}
	}
	opaque := Broadcast{ID: "b-3", State: StateFinished, Spec: []byte("\x00not json")}
	enc, err := encode(opaque)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := DecodeBroadcast(enc); err != nil || string(b.Spec) != string(opaque.Spec) {
		t.Errorf("opaque spec: %q, %v", b.Spec, err)
	}
}

// The epoch is a time like any other (a test clock may start there), not
// "no time".
func TestEpochRoundTrips(t *testing.T) {
	epoch := time.Unix(0, 0)
	b, err := encodeEntry(Entry{Recipient: "@a", PeerID: 1, Status: EntrySent, UpdatedAt: epoch, SentAt: epoch})
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEntry(b)
	if err != nil || e.UpdatedAt.IsZero() || !e.SentAt.Equal(epoch) || !e.RetractedAt.IsZero() {
		t.Errorf("entry at the epoch: %+v, %v", e, err)
	}
	pb, err := encodePeer(Peer{Kind: KindUser, ID: 1, ResolvedAt: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if p, _, err := decodePeer(pb); err != nil || !p.ResolvedAt.Equal(epoch) {
		t.Errorf("peer at the epoch: %+v, %v", p, err)
	}
}
