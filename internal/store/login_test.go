package store

import (
	"bytes"
	"testing"
)

func TestStoreLogin(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	if err := s.StoreSession([]byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAccount(Account{ID: 1, Username: "old"}); err != nil {
		t.Fatal(err)
	}
	want := Account{ID: 2, Bot: true, Username: "new", Server: "127.0.0.1:4430"}
	if err := s.StoreLogin([]byte("new session"), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadSession()
	if err != nil || !bytes.Equal(got, []byte("new session")) {
		t.Fatalf("LoadSession = %q, %v", got, err)
	}
	a, err := s.LoadAccount()
	if err != nil || a != want {
		t.Fatalf("LoadAccount = %+v, %v; want %+v", a, err, want)
	}
}
