package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	dbName  = "state.db"
	pidName = "broadcast.pid"

	// schemaVersion is written into every new database. A database without
	// it was not made by this package; one with a higher value was made by a
	// newer broadcast that may store records differently. 2: journal
	// entries and peers are CBOR, a peer stored once (codec.go).
	schemaVersion = 2

	defaultLockTimeout = 200 * time.Millisecond

	// allocSize is how far ahead of its pages the file grows. bbolt's
	// default, 16 MiB, makes a file under that size jump from one power of
	// two to the next (7.8 MiB of pages made an 8 MiB file, 9.2 MiB a
	// 16 MiB one); this keeps the file within a quarter MiB of what it
	// holds, at the cost of a truncate and an fsync every quarter MiB.
	allocSize = 256 << 10
)

var (
	bucketMeta       = []byte("meta")
	bucketSession    = []byte("session")
	bucketPeers      = []byte("peers")
	bucketBroadcasts = []byte("broadcasts")
	bucketJournal    = []byte("journal")

	keySchema = []byte("schema")

	allBuckets = [][]byte{bucketMeta, bucketSession, bucketPeers, bucketBroadcasts, bucketJournal, bucketSummaries, bucketPruned}
)

// errEmpty is the cause of the CorruptError for a zero-length state.db.
var errEmpty = errors.New("file is empty")

// errReplaced: the file whose lock was taken is no longer state.db.
var errReplaced = errors.New("state.db was replaced while waiting for its lock")

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the database lock before it returns a *LockedError. Zero or negative
	// means 200ms: a second broadcast should fail fast, not queue up.
	LockTimeout time.Duration
	// Now is the clock that stamps records (journal times, a peer's
	// ResolvedAt) and that Prune measures ages by; nil means time.Now.
	// It is there so that a year of daily broadcasts can be simulated
	// (the bench's retention row) without waiting a year.
	Now func() time.Time
}

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db      *bolt.DB
	path    string // state.db, also for a snapshot (see OpenSnapshot)
	pidPath string // "" for a snapshot, which has no pid file of its own

	// copyPath is the temporary file a snapshot was received into; Close
	// removes it. It is "" for a Store from Open.
	copyPath string

	clock   func() time.Time // Options.Now
	peerw   peerWriter       // SavePeer's commits in flight
	commits committer        // batched writes (commit.go)

	mu     sync.Mutex
	closed bool
	server *server // set while ServeReaders runs

	closeOnce sync.Once
	closeErr  error
}

// Open opens the state database in dir, creating dir (mode 0700) and the
// database (mode 0600) if they do not exist, and takes the database lock
// for as long as the Store is open.
//
// It returns a *PermissionError if dir or an existing state.db is reachable
// by other users, a *SymlinkError if dir, state.db or broadcast.pid is a
// symbolic link, a *NotWritableError if dir or state.db cannot be written, a
// *LockedError if another process holds the lock, and a *CorruptError if
// state.db exists but is not a database this package wrote. A corrupt file
// is never modified.
//
// A successful Open also removes snapshot copies (see OpenSnapshot) that a
// crashed reader left in dir more than a minute ago.
func Open(dir string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	if dir == "" {
		return nil, errors.New("open state: no state dir given")
	}
	dir = filepath.Clean(dir)
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, dbName)
	pidPath := filepath.Join(dir, pidName)

	// Look at every name before anything opens it: os.Stat, os.Chmod and
	// an open without O_NOFOLLOW would all follow a link.
	if fi, err := os.Lstat(pidPath); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, symlinkError(pidPath, false)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := create(path); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, symlinkError(path, false)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("open %s: not a regular file", path)
	case shared(fi.Mode()):
		return nil, &PermissionError{Path: path, Mode: fi.Mode()}
	case fi.Size() == 0:
		return nil, &CorruptError{Path: path, Err: errEmpty}
	}

	// Check the file read-only before bbolt opens it for writing: a writable
	// open loads the freelist, which on a truncated file lies beyond the
	// end of the mapping, and may commit a transaction, which would modify
	// a file we are about to call corrupt.
	var db *bolt.DB
	for attempt := 0; ; attempt++ {
		err = check(path, pidPath, timeout)
		if err == nil {
			db, err = openBolt(path, pidPath, timeout, false)
		}
		// A compaction renamed a new file over state.db while we waited
		// for the old one's lock: open the new one.
		if errors.Is(err, errReplaced) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	s := &Store{db: db, path: path, pidPath: pidPath, clock: opts.Now}
	db.AllocSize = allocSize
	// Summaries first: ensureBuckets would create their bucket empty.
	if err := s.ensureSummaries(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.ensureBuckets(); err != nil {
		db.Close()
		return nil, err
	}
	if err := writePID(pidPath); err != nil {
		db.Close()
		return nil, err
	}
	removeStaleCopies(dir, time.Now())
	return s, nil
}

// Close stops serving readers (see ServeReaders), removes the pid file and
// closes the database, releasing the lock. For a snapshot it closes the copy
// and removes it. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		srv := s.server
		s.mu.Unlock()
		if srv != nil {
			srv.stop() // before the lock goes, so no socket outlives it
		}
		var errs []error
		if err := s.peerw.wait(); err != nil {
			errs = append(errs, err)
		}
		s.commits.wait()
		// Remove the pid file while we still hold the lock, so that we never
		// remove the one written by the next holder.
		if s.pidPath != "" {
			if err := os.Remove(s.pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove pid file: %w", err))
			}
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.path, err))
		}
		if s.copyPath != "" {
			// Open may have removed it already if this reader ran long.
			if err := os.Remove(s.copyPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove snapshot copy: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Path returns the path of the database file. For a snapshot that is still
// state.db, the database it is a copy of.
func (s *Store) Path() string { return s.path }

// Snapshot reports whether s is a read-only copy from OpenSnapshot, taken
// while another broadcast holds the database, rather than the database
// itself.
func (s *Store) Snapshot() bool { return s.copyPath != "" }

// ensureDir creates dir with mode 0700 if it is missing and checks that an
// existing one is private and not a symbolic link. dir is clean.
func ensureDir(dir string) error {
	// Remember which directories MkdirAll is about to create: only those
	// are ours to chmod (MkdirAll's mode is filtered by the umask).
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return checkDir(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		// Not a NotWritableError: the directory that refused is some
		// ancestor, often not the user's to change, and the message names it.
		return fmt.Errorf("create state dir: %w", err)
	}
	for _, d := range created {
		if err := chmodDir(d, 0o700); err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
	}
	return checkDir(dir)
}

// checkDir checks that dir is a directory, not a link to one, and private.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("state dir: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return symlinkError(dir, true)
	case !fi.IsDir():
		return fmt.Errorf("state dir %s: not a directory", dir)
	case shared(fi.Mode()):
		return &PermissionError{Path: dir, Mode: fi.Mode()}
	}
	return nil
}

// chmodDir changes the mode of the directory at path through a descriptor
// opened without following links, so that a link swapped in for a directory
// we just made cannot redirect the chmod.
func chmodDir(path string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(mode)
}

// shared reports whether mode grants anything to group or others.
// Windows has no such bits, so it is never checked there.
func shared(mode fs.FileMode) bool {
	return runtime.GOOS != "windows" && mode.Perm()&0o077 != 0
}

// create makes a new, complete database at path. It builds it under a
// temporary name and hard-links it into place, so state.db never exists in
// a half-initialised state and a concurrent creator cannot be overwritten:
// whichever link lands first wins and the other simply opens it.
func create(path string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp) // left over from a crashed run that had our pid
	defer os.Remove(tmp)

	db, err := bolt.Open(tmp, 0o600, &bolt.Options{
		Timeout: defaultLockTimeout,
		OpenFile: func(name string, flag int, mode fs.FileMode) (*os.File, error) {
			// A new file or nothing: never one that appeared (or a link
			// that was planted) since the Remove above.
			return os.OpenFile(name, flag|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
		},
	})
	if err != nil {
		return notWritable(filepath.Dir(path), true, fmt.Errorf("create %s: %w", path, err))
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}

	err = os.Link(tmp, path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return nil
	case linkUnsupported(err):
		// Some filesystems have no hard links. Rename overwrites, so check
		// first; the window is small and only matters if two broadcasts
		// start on a fresh state dir at the same instant.
		if _, serr := os.Lstat(path); serr == nil {
			return nil
		}
		if err := os.Rename(tmp, path); err != nil {
			return notWritable(filepath.Dir(path), true, fmt.Errorf("create %s: %w", path, err))
		}
	default:
		return notWritable(filepath.Dir(path), true, fmt.Errorf("create %s: %w", path, err))
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a new directory entry durable, so that a session written
// to the new database right after cannot outlive the file's name in a
// crash. It is best effort: some systems cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// linkUnsupported reports whether err from os.Link means the filesystem
// cannot do hard links, as opposed to a real failure.
func linkUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fs.ErrPermission)
}

// check opens path read-only and verifies what is cheap to verify without
// reading the whole file: the meta pages (bbolt does that), that the file
// is as long as the meta page says, and that it is ours.
func check(path, pidPath string, timeout time.Duration) error {
	db, err := openBolt(path, pidPath, timeout, true)
	if err != nil {
		return err
	}
	defer db.Close()
	return verify(db, path)
}

// verify is check on a database that is already open.
func verify(db *bolt.DB, path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				// bbolt maps pages past the end of the file and would fault.
				return corrupt(path, "truncated: %d bytes, database needs %d", fi.Size(), tx.Size())
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				return corrupt(path, "not a broadcast state file")
			}
			v := meta.Get(keySchema)
			n, err := strconv.Atoi(string(v))
			switch {
			case err != nil || n < 1:
				return corrupt(path, "bad schema version %q", v)
			case n > schemaVersion:
				return fmt.Errorf("state file %s has schema version %d; this broadcast supports up to %d", path, n, schemaVersion)
			}
			return nil
		})
	})
}

// openBolt opens path with bbolt, never creating or initialising it and
// never following a symbolic link, and maps bbolt's errors and panics to
// LockedError, CorruptError, SymlinkError and (opening for writing)
// NotWritableError.
func openBolt(path, pidPath string, timeout time.Duration, readOnly bool) (db *bolt.DB, err error) {
	var (
		file   *os.File
		opened fs.FileInfo
	)
	defer func() {
		if err != nil && file != nil {
			// After a panic bbolt has not closed the file; closing it
			// releases the lock. The mapping leaks, which is acceptable on
			// a path that ends in an error message. When bbolt returned an
			// error it closed the file itself, and a second Close of an
			// *os.File is harmless.
			file.Close()
		}
	}()
	err = guard(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:  timeout,
			ReadOnly: readOnly,
			OpenFile: func(name string, flag int, mode fs.FileMode) (*os.File, error) {
				// bbolt would create a missing file and initialise an
				// empty one; either would hide damage.
				f, err := os.OpenFile(name, flag&^os.O_CREATE|oNoFollow, mode)
				if err != nil {
					// O_NOFOLLOW fails with ELOOP (EMLINK on FreeBSD):
					// say what it means.
					if fi, lerr := os.Lstat(name); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
						return nil, symlinkError(name, false)
					}
					return nil, err
				}
				fi, err := f.Stat()
				if err == nil && fi.Size() == 0 {
					err = errEmpty
				}
				opened = fi
				if err != nil {
					f.Close()
					return nil, err
				}
				file = f
				return f, nil
			},
		})
		return err
	})
	if err == nil {
		file = nil // owned by db now
		// The lock is on the file opened; Compact may have renamed
		// another over its name meanwhile.
		if cur, serr := os.Lstat(path); serr == nil && opened != nil && !os.SameFile(cur, opened) {
			db.Close()
			return nil, errReplaced
		}
		return db, nil
	}
	var (
		ce *CorruptError
		se *SymlinkError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &se):
		return nil, err
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &LockedError{PID: readPID(pidPath), Path: path}
	case osError(err) && !readOnly:
		return nil, notWritable(path, false, fmt.Errorf("open %s: %w", path, err))
	case osError(err):
		return nil, fmt.Errorf("open %s: %w", path, err)
	default:
		// bbolt's own complaints are all about the content: ErrInvalid,
		// ErrChecksum, ErrVersionMismatch, and some without a sentinel
		// such as "file size too small".
		return nil, &CorruptError{Path: path, Err: err}
	}
}

// osError reports whether err came from the operating system (permission
// denied, I/O error, out of memory) rather than from bbolt judging the file.
func osError(err error) bool {
	var (
		errno syscall.Errno
		pe    *fs.PathError
	)
	return errors.As(err, &errno) || errors.As(err, &pe)
}

// ensureBuckets brings a database made by an older version up to this
// one: it creates the buckets it lacks and raises its schema version, since
// this version writes records (codec.go) that an older one cannot read, so
// an older binary must refuse the file rather than misread it. It writes
// only when something is missing, since every bbolt commit writes a meta
// page.
func (s *Store) ensureBuckets() error {
	missing := false
	err := s.view(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		if n, _ := strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keySchema))); n < schemaVersion {
			missing = true
		}
		return nil
	})
	if err != nil || !missing {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	})
}

// writePID records our pid for the LockedError of the next process. It
// writes a temporary file and renames it so a reader never sees it half
// written.
func writePID(path string) error {
	// CreateTemp uses O_EXCL, which never follows a link, and a rename
	// replaces a link rather than writing through it.
	f, err := os.CreateTemp(filepath.Dir(path), pidName+".*.tmp") // mode 0600
	if err != nil {
		return notWritable(filepath.Dir(path), true, fmt.Errorf("write pid file: %w", err))
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// readPID returns the pid in the pid file, or 0 if it cannot be read or is
// not a regular file (a link is not followed, and a FIFO would block).
func readPID(path string) int {
	if path == "" {
		return 0
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// guard runs fn with memory faults turned into panics and any panic turned
// into a CorruptError. bbolt reads the mapped file through unchecked
// pointers and panics on pages it cannot make sense of, and a damaged file
// must give an error message, not a crash.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(path, "panic: %v", r)
		}
	}()
	return fn()
}

// view runs fn in a read-only transaction.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return guard(s.path, func() error { return s.db.View(fn) })
}

// update runs fn in a read-write transaction of its own.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	if s.Snapshot() {
		return ErrReadOnly
	}
	return guard(s.path, func() error { return s.db.Update(fn) })
}
