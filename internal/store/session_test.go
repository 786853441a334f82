package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestSession(t *testing.T) {
	s := open(t, stateDir(t))

	if _, err := s.LoadSession(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadSession on a new store: %v, want ErrNotFound", err)
	}
	if _, err := s.LoadAccount(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadAccount on a new store: %v, want ErrNotFound", err)
	}

	blob := []byte{0, 1, 2, 0xff, '{'}
	if err := s.StoreSession(blob); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadSession()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("LoadSession = %x, %v; want %x", got, err, blob)
	}
	blob2 := []byte("second")
	if err := s.StoreSession(blob2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadSession(); !bytes.Equal(got, blob2) {
		t.Fatalf("LoadSession after replace = %q", got)
	}

	acct := Account{ID: 42, Bot: true, Username: "bot", FirstName: "B", LastName: "L", Phone: "+1555", Server: "telegram"}
	if err := s.StoreAccount(acct); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadAccount(); err != nil || got != acct {
		t.Fatalf("LoadAccount = %+v, %v; want %+v", got, err, acct)
	}

	if err := s.DeleteSession(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadSession(); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadSession after delete: %v", err)
	}
	if _, err := s.LoadAccount(); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadAccount after DeleteSession: %v", err)
	}
	if err := s.DeleteSession(); err != nil {
		t.Errorf("DeleteSession with nothing stored: %v", err)
	}
}
