package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	keySession = []byte("data")
	keyAccount = []byte("account")
)

// Account is who is logged in. It is saved at login so that a later run,
// from cron say, can show and check the account without asking Telegram.
type Account struct {
	ID        int64  `json:"id"`
	Bot       bool   `json:"bot,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Server    string `json:"server,omitempty"` // server address, or "telegram"
}

// LoadSession returns the stored MTProto session, or ErrNotFound.
func (s *Store) LoadSession() ([]byte, error) {
	var data []byte
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSession).Get(keySession)
		if v == nil {
			return ErrNotFound
		}
		data = append([]byte(nil), v...) // v is only valid inside tx
		return nil
	})
	return data, err
}

// StoreSession replaces the stored MTProto session. The store does not
// interpret it.
func (s *Store) StoreSession(data []byte) error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSession).Put(keySession, data)
	})
	if err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// DeleteSession forgets the session and the account record that goes with
// it, as after a logout. It is not an error if there is none.
func (s *Store) DeleteSession() error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSession)
		if err := b.Delete(keySession); err != nil {
			return err
		}
		return b.Delete(keyAccount)
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// LoadAccount returns the logged-in account, or ErrNotFound.
func (s *Store) LoadAccount() (Account, error) {
	var a Account
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSession).Get(keyAccount)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return corrupt(s.path, "account: %w", err)
		}
		return nil
	})
	return a, err
}

// StoreAccount replaces the account record.
func (s *Store) StoreAccount(a Account) error {
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store account: %w", err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSession).Put(keyAccount, v)
	})
	if err != nil {
		return fmt.Errorf("store account: %w", err)
	}
	return nil
}
