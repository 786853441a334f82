package store

import "time"

// now is the store's clock (Options.Now, else the wall clock).
func (s *Store) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}
