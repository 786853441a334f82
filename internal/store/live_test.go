package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// liveDir is stateDir with a path short enough for state.sock.
func liveDir(t *testing.T) string {
	t.Helper()
	dir := stateDir(t)
	if len(filepath.Join(dir, sockName)) > maxSocketPath() {
		tmp, err := os.MkdirTemp("", "bc")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(tmp) })
		dir = filepath.Join(tmp, "state")
	}
	if len(filepath.Join(dir, sockName)) > maxSocketPath() {
		t.Skip("temporary directory path too long for a Unix socket")
	}
	return dir
}

// serve opens a Store in dir and serves readers until the test ends.
func serve(t *testing.T, dir string) (*Store, func()) {
	t.Helper()
	s := open(t, dir)
	stop, err := s.ServeReaders()
	if err != nil {
		t.Fatalf("ServeReaders: %v", err)
	}
	t.Cleanup(stop)
	return s, stop
}

// readFast is OpenForRead with a short lock timeout.
func readFast(dir string) (*Store, error) {
	return OpenForRead(dir, Options{LockTimeout: 20 * time.Millisecond})
}

func wantLocked(t *testing.T, err error) {
	t.Helper()
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want LockedError", err)
	}
	if le.PID != os.Getpid() {
		t.Errorf("LockedError pid %d, want %d", le.PID, os.Getpid())
	}
}

// copies lists the snapshot copies in dir.
func copies(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, copyPrefix+"*"+copySuffix))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestOpenForReadWhileLocked(t *testing.T) {
	dir := liveDir(t)
	s, stop := serve(t, dir)
	saveBroadcast(t, s, "b1")
	if err := s.MarkPending("b1", Entry{Recipient: "@a", PeerID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent("b1", 1, 99); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogin([]byte("secret"), Account{ID: 7, Username: "me"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, sockName)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		t.Fatalf("state.sock: %v, %v", fi, err)
	}
	if runtime.GOOS != "windows" {
		if m := mode(t, sock); m != 0o600 {
			t.Errorf("state.sock: mode %04o, want 0600", m)
		}
	}
	pidBefore, _ := os.ReadFile(filepath.Join(dir, pidName))

	r, err := readFast(dir)
	if err != nil {
		t.Fatalf("OpenForRead: %v", err)
	}
	if !r.Snapshot() || s.Snapshot() {
		t.Errorf("Snapshot() = %v for the copy, %v for the database", r.Snapshot(), s.Snapshot())
	}
	if r.Path() != s.Path() {
		t.Errorf("Path() = %s, want %s", r.Path(), s.Path())
	}
	list, err := r.Broadcasts()
	if err != nil || len(list) != 1 || list[0].ID != "b1" {
		t.Fatalf("Broadcasts: %v, %v", list, err)
	}
	if es, err := r.Entries("b1"); err != nil || len(es) != 1 || es[0].Status != EntrySent || es[0].MessageID != 99 {
		t.Errorf("Entries: %+v, %v", es, err)
	}
	if a, err := r.LoadAccount(); err != nil || a.Username != "me" {
		t.Errorf("LoadAccount: %+v, %v", a, err)
	}

	// The copy is a private file in the state dir until Close.
	names := copies(t, dir)
	if len(names) != 1 {
		t.Fatalf("copies: %v", names)
	}
	if runtime.GOOS != "windows" {
		if m := mode(t, names[0]); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", names[0], m)
		}
	}

	// Writes fail at once, and say why.
	start := time.Now()
	for name, err := range map[string]error{
		"SaveBroadcast": r.SaveBroadcast(Broadcast{ID: "b2"}),
		"MarkSent":      r.MarkSent("b1", 2, 1),
		"SavePeer":      r.SavePeer("@x", Peer{ID: 5}),
		"StoreSession":  r.StoreSession([]byte("x")),
		"DeleteSession": r.DeleteSession(),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a snapshot: %v, want ErrReadOnly", name, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("failed writes took %v", d)
	}
	if _, err := r.ServeReaders(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("ServeReaders on a snapshot: %v", err)
	}

	// A later write shows in a later copy, not in the one already taken.
	saveBroadcast(t, s, "b2")
	r2, err := readFast(dir)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := r2.Broadcasts(); len(list) != 2 {
		t.Errorf("new snapshot has %d broadcasts, want 2", len(list))
	}
	if list, _ := r.Broadcasts(); len(list) != 1 {
		t.Errorf("old snapshot has %d broadcasts, want still 1", len(list))
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if names := copies(t, dir); len(names) != 0 {
		t.Errorf("copies left after Close: %v", names)
	}
	// The reader left the holder's pid file alone.
	if pidAfter, err := os.ReadFile(filepath.Join(dir, pidName)); err != nil || string(pidAfter) != string(pidBefore) {
		t.Errorf("pid file %q, %v; was %q", pidAfter, err, pidBefore)
	}

	stop()
	stop()
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state.sock after stop: %v", err)
	}
	_, err = readFast(dir)
	wantLocked(t, err)
	// The database is still usable, and can serve again.
	saveBroadcast(t, s, "b3")
	stop2, err := s.ServeReaders()
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	r3, err := readFast(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if list, _ := r3.Broadcasts(); len(list) != 3 {
		t.Errorf("snapshot after serving again has %d broadcasts, want 3", len(list))
	}
}

func TestOpenForReadWithoutServer(t *testing.T) {
	dir := liveDir(t)
	s := open(t, dir)
	_, err := readFast(dir)
	wantLocked(t, err)
	if err.Error() != fmt.Sprintf("another broadcast is running (pid %d)", os.Getpid()) {
		t.Errorf("Error() = %q: not the plain LockedError", err)
	}
	_, err = OpenSnapshot(dir)
	wantLocked(t, err)
	if names := copies(t, dir); len(names) != 0 {
		t.Errorf("copies left: %v", names)
	}
	s.Close()
}

func TestOpenForReadUnlocked(t *testing.T) {
	dir := liveDir(t)
	s, err := readFast(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Snapshot() {
		t.Error("Snapshot() with nobody holding the database")
	}
}

func TestCloseStopsServing(t *testing.T) {
	dir := liveDir(t)
	s := open(t, dir)
	stop, err := s.ServeReaders()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ServeReaders(); err == nil {
		t.Error("second ServeReaders succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, sockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state.sock after Close: %v", err)
	}
	stop() // harmless after Close
	if _, err := s.ServeReaders(); err == nil {
		t.Error("ServeReaders after Close succeeded")
	}
	// Nothing but the database is left.
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("state dir holds %v", names)
	}
}

// A broadcast killed while serving leaves its socket; the next holder
// replaces it, and a reader meanwhile finds nobody listening.
func TestServeReadersReplacesStaleSocket(t *testing.T) {
	skipWindows(t)
	dir := liveDir(t)
	s := open(t, dir)
	sock := filepath.Join(dir, sockName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()

	_, err = readFast(dir)
	wantLocked(t, err)

	stop, err := s.ServeReaders()
	if err != nil {
		t.Fatalf("ServeReaders over a stale socket: %v", err)
	}
	defer stop()
	r, err := readFast(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestServeReadersLeavesOtherFilesAlone(t *testing.T) {
	skipWindows(t)
	dir := liveDir(t)
	s := open(t, dir)
	sock := filepath.Join(dir, sockName)

	t.Run("regular file", func(t *testing.T) {
		if err := os.WriteFile(sock, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(sock)
		stop, err := s.ServeReaders()
		if err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("ServeReaders: %v", err)
		}
		stop()
		if b, err := os.ReadFile(sock); err != nil || string(b) != "mine" {
			t.Errorf("file now %q, %v", b, err)
		}
		_, err = readFast(dir)
		wantLocked(t, err)
	})
	t.Run("link", func(t *testing.T) {
		target := victim(t)
		symlink(t, target, sock)
		defer os.Remove(sock)
		stop, err := s.ServeReaders()
		wantSymlinkError(t, err, sock, target, false)
		stop()
		untouched(t, target)
		_, err = OpenSnapshot(dir)
		wantSymlinkError(t, err, sock, target, false)
		// OpenForRead keeps the LockedError for the CLI, with the reason.
		_, err = readFast(dir)
		wantLocked(t, err)
		if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("Error() = %q", err)
		}
	})
}

func TestServeReadersPathTooLong(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	s := open(t, dir)
	stop, err := s.ServeReaders()
	if !errors.Is(err, ErrSocketPathTooLong) {
		t.Fatalf("ServeReaders: %v, want ErrSocketPathTooLong", err)
	}
	if stop == nil {
		t.Fatal("nil stop")
	}
	stop()
	if _, err := os.Lstat(filepath.Join(dir, sockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state.sock: %v", err)
	}
	_, err = readFast(dir)
	wantLocked(t, err)
	// The store itself works.
	saveBroadcast(t, s, "b1")
}

// fakeServer listens on state.sock in dir and answers every connection
// with answer.
func fakeServer(t *testing.T, dir string, answer []byte) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(dir, sockName))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(answer)
			c.Close()
		}
	}()
}

func TestOpenSnapshotBadCopies(t *testing.T) {
	header := func(size uint64) []byte {
		b := append([]byte(nil), copyMagic[:]...)
		return binary.BigEndian.AppendUint64(b, size)
	}
	valid, _ := validDB(t)
	for _, tc := range []struct {
		name   string
		answer []byte
		want   string // in the error; "" means a LockedError
	}{
		{"nothing", nil, ""},
		{"not ours", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "not a copy this broadcast can read"},
		{"short header", copyMagic[:5], "cut short in its header"},
		{"zero size", header(0), "copy of 0 bytes"},
		{"cut short", append(header(1<<20), make([]byte, 100)...), "cut short at 100 of 1048576 bytes"},
		{"garbage", append(header(8192), make([]byte, 8192)...), "unusable"},
		{"truncated database", append(header(16384), valid[:16384]...), "unusable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := liveDir(t)
			open(t, dir) // holds the lock and makes the dir
			fakeServer(t, dir, tc.answer)
			r, err := OpenSnapshot(dir)
			if err == nil {
				r.Close()
				t.Fatal("OpenSnapshot succeeded")
			}
			if tc.want == "" {
				wantLocked(t, err)
			} else {
				if errors.As(err, new(*LockedError)) || errors.As(err, new(*CorruptError)) ||
					!strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v, want an error saying %q", err, tc.want)
				}
				// OpenForRead still reports the lock, with the reason.
				_, rerr := readFast(dir)
				wantLocked(t, rerr)
			}
			if names := copies(t, dir); len(names) != 0 {
				t.Errorf("copies left: %v", names)
			}
		})
	}
}

func TestOpenRemovesStaleCopies(t *testing.T) {
	dir := stateDir(t)
	open(t, dir).Close()
	old := time.Now().Add(-2 * time.Minute)
	files := map[string]bool{ // name: removed by Open
		"snapshot-1.db":  true,
		"snapshot-2.db":  false, // young
		"snapshot-3.txt": false,
		"other-4.db":     false,
		"state.db":       false,
	}
	for name := range files {
		path := filepath.Join(dir, name)
		if name != "state.db" {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if name != "snapshot-2.db" {
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	sub := filepath.Join(dir, "snapshot-5.db")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(sub, old, old)
	files["snapshot-5.db"] = false

	open(t, dir).Close()
	for name, removed := range files {
		_, err := os.Lstat(filepath.Join(dir, name))
		if gone := errors.Is(err, fs.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v (%v)", name, gone, removed, err)
		}
	}
}

// Readers copy while the holder commits: every copy is one consistent
// state, and copies taken one after another never go back in time.
func TestSnapshotsWhileWriting(t *testing.T) {
	dir := liveDir(t)
	s, stop := serve(t, dir)
	saveBroadcast(t, s, "b")
	if err := s.StoreLogin([]byte("0"), Account{ID: 0, Username: "0"}); err != nil {
		t.Fatal(err)
	}

	var (
		done    = make(chan struct{})
		writes  atomic.Int64
		writers sync.WaitGroup
	)
	writers.Add(2)
	go func() { // session and account change together
		defer writers.Done()
		for i := int64(1); ; i++ {
			select {
			case <-done:
				return
			default:
			}
			n := strconv.FormatInt(i, 10)
			if err := s.StoreLogin([]byte(n), Account{ID: i, Username: n}); err != nil {
				t.Error(err)
				return
			}
			writes.Add(1)
		}
	}()
	go func() { // the journal grows, so the file and its mapping grow
		defer writers.Done()
		for p := int64(1); ; p++ {
			select {
			case <-done:
				return
			default:
			}
			if err := s.MarkSent("b", p, int(p)); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	const readers, rounds = 2 * maxCopies, 10
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastAccount, lastEntries := int64(-1), -1
			for range rounds {
				r, err := OpenSnapshot(dir)
				if err != nil {
					t.Error(err)
					return
				}
				sess, err := r.LoadSession()
				if err != nil {
					t.Error(err)
				}
				a, err := r.LoadAccount()
				if err != nil {
					t.Error(err)
				}
				if string(sess) != a.Username || strconv.FormatInt(a.ID, 10) != a.Username {
					t.Errorf("torn copy: session %q, account %+v", sess, a)
				}
				es, err := r.Entries("b")
				if err != nil {
					t.Error(err)
				}
				if a.ID < lastAccount || len(es) < lastEntries {
					t.Errorf("copy went back: account %d after %d, %d entries after %d", a.ID, lastAccount, len(es), lastEntries)
				}
				lastAccount, lastEntries = a.ID, len(es)
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()

	// Stopping while readers keep coming: each gets a copy or, once the
	// socket is closing, a LockedError; nothing else.
	var late sync.WaitGroup
	stopped := make(chan struct{})
	for range maxCopies {
		late.Add(1)
		go func() {
			defer late.Done()
			for {
				r, err := OpenSnapshot(dir)
				if err == nil {
					r.Close()
					continue
				}
				if !errors.As(err, new(*LockedError)) {
					t.Errorf("OpenSnapshot while stopping: %v", err)
				}
				select {
				case <-stopped:
					return
				default:
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	stop()
	close(stopped)
	late.Wait()
	close(done)
	writers.Wait()
	if writes.Load() == 0 {
		t.Error("no writes happened during the copies")
	}
	t.Logf("%d logins committed meanwhile", writes.Load())
	if names := copies(t, dir); len(names) != 0 {
		t.Errorf("copies left: %v", names)
	}
}

// A reader that connects and never reads holds a read transaction in the
// holder only until copyTimeout: then stop, and commits that must grow the
// file, go on.
func TestStuckReader(t *testing.T) {
	defer func(d time.Duration) { copyTimeout = d }(copyTimeout)
	copyTimeout = 300 * time.Millisecond

	dir := liveDir(t)
	s, stop := serve(t, dir)
	big := Peer{Kind: KindUser, ID: 1, FirstName: strings.Repeat("x", 4000)}
	for i := range 4 {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			v, _ := encode(big)
			for j := range 200 {
				if err := tx.Bucket(bucketPeers).Put([]byte(fmt.Sprintf("@p%d-%d", i, j)), v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Several megabytes: more than a socket buffer holds.
	conn, err := net.Dial("unix", filepath.Join(dir, sockName))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // the copy has started and stalled

	start := time.Now()
	grow := make(chan error, 1)
	go func() { // needs more room than the mapping has
		grow <- s.db.Update(func(tx *bolt.Tx) error {
			v, _ := encode(big)
			for j := range 2000 {
				if err := tx.Bucket(bucketPeers).Put([]byte(fmt.Sprintf("@q%d", j)), v); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	stop()
	if err := <-grow; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop and a growing commit took %v behind a stuck reader", d)
	}
}
