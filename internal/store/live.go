package store

// Live reads. A broadcast holds the database lock for its whole run, which
// may be half an hour, and bbolt's lock shuts out readers as well as
// writers. So the holder serves copies instead: ServeReaders listens on
// state.sock in the state dir and answers every connection with one
// consistent copy of the whole database, taken in a read transaction, and
// OpenSnapshot receives such a copy into a temporary file and opens that
// read-only. The reader never opens state.db, so it touches neither its
// lock nor the pid file.
//
// The exchange is one way: the server writes a 16-byte header (copyMagic,
// then the size of the copy as a big-endian uint64) and the copy, and
// closes the connection. The header lets a reader tell a copy cut short from
// a complete one, and a server speaking another protocol from this one.
//
// Only the owner can connect: the state dir is 0700 and the socket 0600.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	sockName = "state.sock"

	// A reader's copy is named copyPrefix + random + copySuffix. Open
	// removes those older than staleCopyAge: their reader has crashed, or
	// no longer needs the file on a system where an open file can be
	// removed.
	copyPrefix   = "snapshot-"
	copySuffix   = ".db"
	staleCopyAge = time.Minute

	// maxCopies bounds the copies sent at once; further readers wait in
	// the listen queue.
	maxCopies = 4

	// dialTimeout bounds a reader's connect.
	dialTimeout = 2 * time.Second
)

// copyTimeout bounds one copy, sender and receiver side. The sender holds a
// read transaction meanwhile, and a commit that must grow the memory map
// waits for every read transaction to end: a reader that stops reading may
// stall the running broadcast this long, never longer. The state is a few
// megabytes; a local socket moves that in milliseconds. A variable for
// tests.
var copyTimeout = 10 * time.Second

// errNoAnswer means the server closed the connection, or let it time out,
// without sending a byte: it is stopping, or cannot read its database.
// Either way nobody serves, and OpenSnapshot says so with a *LockedError.
var errNoAnswer = errors.New("no answer")

// copyMagic starts every copy; the last two bytes are the protocol version.
var copyMagic = [8]byte{'b', 'c', 's', 't', 'a', 't', '0', '1'}

// maxSocketPath is the longest path a Unix socket can be bound to: the
// address holds 108 bytes on Linux and Windows and 104 on macOS and the
// BSDs, including a terminating NUL.
func maxSocketPath() int {
	switch runtime.GOOS {
	case "linux", "android", "windows":
		return 107
	}
	return 103
}

// server is what ServeReaders runs.
type server struct {
	s    *Store
	ln   *net.UnixListener
	sock string
	fi   fs.FileInfo // of the socket file we made, so stop removes only that

	done chan struct{}
	wg   sync.WaitGroup // the accept loop and the copies in flight
	once sync.Once
}

// ServeReaders lets other processes read the state while s is open: for as
// long as it runs, OpenSnapshot (and so OpenForRead) in the same state dir
// gets a consistent copy of the database instead of a *LockedError. It
// listens on the Unix socket state.sock in the state dir, mode 0600; a stale
// socket file left by a crashed process is removed first, but a file of any
// other kind is left alone and is an error, and a link is a *SymlinkError.
//
// stop closes the socket, waits for the copies in flight (each gets ten
// seconds at most) and removes the socket file. It may be called more than once;
// Close calls it too. stop is never nil, even with an error, so that
//
//	stop, err := st.ServeReaders()
//	defer stop()
//
// is always safe. An error is never fatal to the caller's own work: s
// remains fully usable, and only live reads are unavailable. In particular,
// when the socket path is longer than a Unix socket address can hold (about
// 100 bytes, see ErrSocketPathTooLong) ServeReaders returns an error
// wrapping ErrSocketPathTooLong and readers keep getting a *LockedError.
//
// A Store from OpenSnapshot cannot serve (ErrReadOnly), and a Store serves
// at most once at a time.
func (s *Store) ServeReaders() (stop func(), err error) {
	stop = func() {}
	if s.Snapshot() {
		return stop, fmt.Errorf("serve readers: %w", ErrReadOnly)
	}
	sock := filepath.Join(filepath.Dir(s.path), sockName)
	if n, limit := len(sock), maxSocketPath(); n > limit {
		return stop, fmt.Errorf("serve readers: %s is %d bytes, over the limit of %d for a Unix socket: %w",
			sock, n, limit, ErrSocketPathTooLong)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return stop, errors.New("serve readers: store is closed")
	case s.server != nil:
		return stop, errors.New("serve readers: already serving")
	}
	// We hold the database lock, and only its holder serves, so a socket
	// here is a leftover of a holder that crashed.
	if err := removeStaleSocket(sock); err != nil {
		return stop, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return stop, fmt.Errorf("serve readers: %w", err)
	}
	// stop removes the file itself, and only if it is still ours.
	ln.SetUnlinkOnClose(false)
	fi, err := privateSocket(sock)
	if err != nil {
		ln.Close()
		return stop, fmt.Errorf("serve readers: %w", err)
	}

	v := &server{s: s, ln: ln, sock: sock, fi: fi, done: make(chan struct{})}
	v.wg.Add(1)
	go v.serve()
	s.server = v
	return v.stop, nil
}

// removeStaleSocket removes a socket file at path, and nothing else.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("serve readers: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return symlinkError(path, false)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("serve readers: %s exists and is not a socket; leaving it alone", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("serve readers: remove stale socket: %w", err)
	}
	return nil
}

// privateSocket makes the socket file just bound at path mode 0600 (bind
// applies only the umask) and returns its FileInfo. The Lstat first makes
// sure the chmod is not through a link; nobody but the owner can have
// swapped one in since, as the state dir is 0700.
func privateSocket(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return nil, fmt.Errorf("%s is not the socket just made", path)
	}
	if runtime.GOOS == "windows" || fi.Mode().Perm() == 0o600 {
		return fi, nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		removeSocket(path, fi)
		return nil, err
	}
	return fi, nil
}

// removeSocket removes path if it is still the file fi describes.
func removeSocket(path string, fi fs.FileInfo) {
	if now, err := os.Lstat(path); err == nil && os.SameFile(now, fi) {
		os.Remove(path)
	}
}

// serve accepts connections until stop and sends each a copy, at most
// maxCopies at once.
func (v *server) serve() {
	defer v.wg.Done()
	slots := make(chan struct{}, maxCopies)
	for {
		conn, err := v.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: let it pass without spinning.
			select {
			case <-v.done:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		select {
		case slots <- struct{}{}:
		case <-v.done:
			conn.Close()
			return
		}
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			defer func() { <-slots }()
			v.s.sendCopy(conn)
		}()
	}
}

// stop ends serve, waits for the copies in flight and removes the socket.
func (v *server) stop() {
	v.once.Do(func() {
		close(v.done)
		v.ln.Close()
		v.wg.Wait()
		removeSocket(v.sock, v.fi)
		v.s.mu.Lock()
		if v.s.server == v {
			v.s.server = nil
		}
		v.s.mu.Unlock()
	})
}

// sendCopy writes the header and a copy of the database to conn, and closes
// it. Errors go nowhere: the reader sees a copy cut short and says so.
func (s *Store) sendCopy(conn net.Conn) {
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(copyTimeout))
	_ = s.view(func(tx *bolt.Tx) error {
		var hdr [16]byte
		copy(hdr[:8], copyMagic[:])
		binary.BigEndian.PutUint64(hdr[8:], uint64(tx.Size()))
		if _, err := conn.Write(hdr[:]); err != nil {
			return err
		}
		_, err := tx.WriteTo(conn)
		return err
	})
}

// OpenSnapshot opens a read-only copy of the state in dir, received from
// the broadcast that holds the database and serves readers (ServeReaders).
// It is what to do after Open returned a *LockedError; OpenForRead does
// both.
//
// The copy is one consistent state of the database at the moment it was
// taken, and does not change after. It is kept in a temporary file named
// snapshot-*.db in dir (mode 0600), which Close removes. Its Snapshot method
// reports true, Path still names state.db, and every write fails with an
// error wrapping ErrReadOnly. OpenSnapshot opens neither state.db nor the
// pid file, except to read the holder's pid for a *LockedError.
//
// If nobody serves in dir (no socket, nobody listening on it, or a server
// that hangs up without sending anything, as one does while stopping) it
// returns a *LockedError, as Open did, so that the caller can go on as
// before. It cannot tell whether anyone holds the lock at all, as it does
// not touch it: call it after Open returned a *LockedError. dir,
// like for Open, must be private and not a link (*PermissionError,
// *SymlinkError), and so must state.sock; a dir the copy cannot be written
// to is a *NotWritableError. Any other error means a server answered but
// the copy did not arrive intact.
func OpenSnapshot(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open state: no state dir given")
	}
	dir = filepath.Clean(dir)
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, dbName)
	sock := filepath.Join(dir, sockName)
	locked := func() error {
		return &LockedError{PID: readPID(filepath.Join(dir, pidName)), Path: path}
	}

	fi, err := os.Lstat(sock)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, locked()
	case err != nil:
		return nil, fmt.Errorf("live read: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, symlinkError(sock, false)
	case fi.Mode()&fs.ModeSocket == 0, len(sock) > maxSocketPath():
		return nil, locked() // nobody can be serving there
	}
	conn, err := net.DialTimeout("unix", sock, dialTimeout)
	if err != nil {
		// Refused: a stale socket from a broadcast that crashed (and so
		// lost its lock too), or from one that is just stopping.
		return nil, locked()
	}
	defer conn.Close()

	copyPath, err := receiveCopy(conn, dir)
	switch {
	case errors.Is(err, errNoAnswer):
		return nil, locked()
	case err != nil:
		return nil, fmt.Errorf("live read from %s: %w", sock, err)
	}
	db, err := openBolt(copyPath, "", defaultLockTimeout, true)
	if err == nil {
		if err = verifyCopy(db, copyPath); err != nil {
			db.Close()
		}
	}
	if err != nil {
		os.Remove(copyPath)
		// Not a CorruptError: state.db is fine as far as anyone knows (its
		// holder opened it), and that error's advice is to move it aside.
		return nil, fmt.Errorf("live read from %s: the copy received is unusable: %v", sock, err)
	}
	return &Store{db: db, path: path, copyPath: copyPath}, nil
}

// receiveCopy reads a copy from conn into a new file in dir and returns the
// file's name. The file is removed again on error.
func receiveCopy(conn net.Conn, dir string) (string, error) {
	// The header may wait for maxCopies copies ahead of ours to finish.
	conn.SetReadDeadline(time.Now().Add(copyTimeout + dialTimeout))
	var hdr [16]byte
	if n, err := io.ReadFull(conn, hdr[:]); err != nil {
		if n == 0 {
			return "", errNoAnswer
		}
		return "", fmt.Errorf("copy cut short in its header: %w", err)
	}
	if !bytes.Equal(hdr[:8], copyMagic[:]) {
		return "", fmt.Errorf("the server sent %q, not a copy this broadcast can read", hdr[:8])
	}
	size := int64(binary.BigEndian.Uint64(hdr[8:]))
	if size <= 0 || size > 1<<48 {
		return "", fmt.Errorf("the server announced a copy of %d bytes", size)
	}

	conn.SetReadDeadline(time.Now().Add(copyTimeout + dialTimeout))
	f, err := os.CreateTemp(dir, copyPrefix+"*"+copySuffix) // 0600, O_EXCL
	if err != nil {
		return "", notWritable(dir, true, err)
	}
	n, err := io.CopyN(f, conn, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("copy cut short at %d of %d bytes", n, size)
		}
		return "", err
	}
	return f.Name(), nil
}

// verifyCopy is verify, plus the buckets every method relies on, which
// Open makes sure of on a database it opens but a reader cannot.
func verifyCopy(db *bolt.DB, path string) error {
	if err := verify(db, path); err != nil {
		return err
	}
	return guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %s missing", name)
				}
			}
			return nil
		})
	})
}

// OpenForRead opens the state in dir for a command that only reads it,
// such as history or whoami. It tries Open, and if another broadcast holds
// the database, OpenSnapshot. If that finds nobody serving, it returns the
// *LockedError from Open; if a live read was tried and failed, an error
// that wraps the *LockedError and says why.
//
// The Store is the database itself or a copy (Snapshot tells which); either
// way the caller should only read.
func OpenForRead(dir string, opts Options) (*Store, error) {
	s, err := Open(dir, opts)
	if !errors.As(err, new(*LockedError)) {
		return s, err
	}
	snap, serr := OpenSnapshot(dir)
	switch {
	case serr == nil:
		return snap, nil
	case errors.As(serr, new(*LockedError)):
		return nil, err
	}
	return nil, fmt.Errorf("%w; reading a live copy failed: %v", err, serr)
}

// removeStaleCopies removes the copies in dir that readers made more than
// staleCopyAge before now. Only regular files named like a copy qualify;
// errors are ignored, as the next Open tries again.
func removeStaleCopies(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, copyPrefix) || !strings.HasSuffix(name, copySuffix) {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleCopyAge {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
