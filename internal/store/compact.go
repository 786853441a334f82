package store

// compact.go gives back the space of what Prune removed. bbolt reuses free
// pages but never shrinks its file, so after a large prune (retention
// turned on over a year of history, or `history prune` by hand) the file
// would stay its old size: Compact copies the live data into a new file and
// renames it over state.db.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Space is how the database file is used.
type Space struct {
	File int64 // the file's size
	// Pages is the size of the pages bbolt has handed out (the file can be
	// larger: it grows in steps), and Free the part of them on its free
	// list, which new writes reuse but the file never gives back.
	Pages, Free int64
}

// Sparse reports whether more than half of the database's pages are free.
func (sp Space) Sparse() bool { return sp.Free*2 > sp.Pages }

// Space measures the database file.
func (s *Store) Space() (Space, error) {
	var sp Space
	err := s.view(func(tx *bolt.Tx) error {
		sp.Pages = tx.Size()
		return nil
	})
	if err != nil {
		return sp, err
	}
	st := s.db.Stats()
	sp.Free = int64(st.FreeAlloc)
	fi, err := os.Stat(s.db.Path())
	if err != nil {
		return sp, err
	}
	sp.File = fi.Size()
	return sp, nil
}

// compactTxSize bounds each transaction of the copy, so that copying a large
// database does not hold it all in memory at once.
const compactTxSize = 4 << 20

// ErrServing: Compact cannot swap the file under readers being served.
var ErrServing = errors.New("the database is serving live reads")

// Compact rewrites the database into a new file holding only live data, and
// renames it over state.db, holding the lock throughout: the new file is
// locked before it takes the name, and the old one is unlocked only after
// it lost it (another process that was waiting for the old file's lock then
// sees it was replaced, and opens the new one: see Open). It returns the
// file's size before and after. A failure leaves state.db as it was. No
// other method may run meanwhile: the Store's handle is replaced.
func (s *Store) Compact() (before, after int64, err error) {
	if s.Snapshot() {
		return 0, 0, ErrReadOnly
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		return 0, 0, ErrServing
	}
	if err := s.peerw.wait(); err != nil {
		return 0, 0, err
	}
	s.commits.wait()
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, err
	}
	before = fi.Size()
	tmp := s.path + ".compact.tmp"
	_ = os.Remove(tmp) // a crashed compaction's; we hold the lock
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{
		Timeout: defaultLockTimeout,
		OpenFile: func(name string, flag int, mode fs.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
		},
	})
	if err != nil {
		return before, 0, fmt.Errorf("compact: %w", err)
	}
	fail := func(err error) (int64, int64, error) {
		dst.Close()
		os.Remove(tmp)
		return before, 0, fmt.Errorf("compact: %w", err)
	}
	if err := guard(s.path, func() error { return bolt.Compact(dst, s.db, compactTxSize) }); err != nil {
		return fail(err)
	}
	if err := verify(dst, tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(s.path))
	old := s.db
	dst.AllocSize = allocSize
	s.db = dst
	_ = old.Close()
	if fi, err := os.Stat(s.path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// Compaction is what CompactIfSparse did.
type Compaction struct {
	Done          bool
	Before, After int64 // the file's sizes
}

// CompactIfSparse compacts the database when more than half of its pages
// are free (see Space.Sparse): after pruning a lot. Below that bbolt's own
// reuse of free pages keeps the file from growing, and copying it would cost
// more than it gives back.
func (s *Store) CompactIfSparse() (Compaction, error) {
	sp, err := s.Space()
	if err != nil || !sp.Sparse() {
		return Compaction{}, err
	}
	before, after, err := s.Compact()
	return Compaction{Done: err == nil, Before: before, After: after}, err
}
