package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// StoreLogin replaces the session and the account record together, in one
// transaction, as when a session is imported from another machine: a crash
// never leaves one account's session under another's name.
func (s *Store) StoreLogin(session []byte, a Account) error {
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store login: %w", err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSession)
		if err := b.Put(keySession, session); err != nil {
			return err
		}
		return b.Put(keyAccount, v)
	})
	if err != nil {
		return fmt.Errorf("store login: %w", err)
	}
	return nil
}
