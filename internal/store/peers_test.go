package store

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestPeerCache(t *testing.T) {
	s := open(t, stateDir(t))

	if _, ok, err := s.LookupPeer("@friend1"); ok || err != nil {
		t.Fatalf("LookupPeer on empty cache: %v, %v", ok, err)
	}

	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	friend := Peer{Kind: KindUser, ID: 123, AccessHash: -987654321, Username: "Friend1", FirstName: "F", Phone: "15551234567", ResolvedAt: at}
	if err := s.SavePeer("@friend1", friend); err != nil {
		t.Fatal(err)
	}
	other := Peer{Kind: KindChannel, ID: 777, AccessHash: 5}
	if err := s.SavePeer("@news", other); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"@friend1", "id:123"} {
		got, ok, err := s.LookupPeer(key)
		if err != nil || !ok {
			t.Fatalf("LookupPeer(%s): %v, %v", key, ok, err)
		}
		if !got.ResolvedAt.Equal(at) {
			t.Errorf("LookupPeer(%s).ResolvedAt = %v", key, got.ResolvedAt)
		}
		got.ResolvedAt = at
		if got != friend {
			t.Errorf("LookupPeer(%s) = %+v, want %+v", key, got, friend)
		}
	}
	if got, _, _ := s.LookupPeer("@news"); got.ResolvedAt.IsZero() {
		t.Error("SavePeer did not set ResolvedAt")
	}

	// Another key for the same peer, as when the user also gave the phone.
	if err := s.SavePeer("+15551234567", friend); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetPeer("@friend1"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"@friend1", "id:123", "+15551234567"} {
		if _, ok, err := s.LookupPeer(key); ok || err != nil {
			t.Errorf("LookupPeer(%s) after ForgetPeer: %v, %v", key, ok, err)
		}
	}
	if _, ok, _ := s.LookupPeer("id:777"); !ok {
		t.Error("ForgetPeer removed an unrelated peer")
	}
	if err := s.ForgetPeer("@nobody"); err != nil {
		t.Errorf("ForgetPeer of an unknown key: %v", err)
	}
	if err := s.SavePeer("", friend); err == nil {
		t.Error("SavePeer with an empty key succeeded")
	}
}

func TestCorruptPeerRecord(t *testing.T) {
	s := open(t, stateDir(t))
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPeers).Put([]byte("@bad"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, _, err := s.LookupPeer("@bad"); !errors.As(err, &ce) {
		t.Errorf("LookupPeer of a bad record: %v, want CorruptError", err)
	}
	if err := s.ForgetPeer("@bad"); err != nil {
		t.Errorf("ForgetPeer of a bad record: %v", err)
	}
	if _, ok, err := s.LookupPeer("@bad"); ok || err != nil {
		t.Errorf("bad record still there: %v, %v", ok, err)
	}
}
