package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMain doubles as the helper process for TestLockAcrossProcesses: with
// STORE_HELPER=1 the test binary opens the store in STORE_DIR, says "ready"
// and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv("STORE_HELPER") == "1" {
		s, err := Open(os.Getenv("STORE_DIR"), Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// stateDir returns a state dir path that does not exist yet, as on first
// use. t.TempDir itself is not private enough to pass Open's check.
func stateDir(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state")
}

func skipWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits on windows")
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	skipWindows(t)
	root := t.TempDir()
	dir := filepath.Join(root, "a", "state")
	s := open(t, dir)

	for _, d := range []string{filepath.Join(root, "a"), dir} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", d, m)
		}
	}
	if s.Path() != filepath.Join(dir, "state.db") {
		t.Errorf("Path() = %s", s.Path())
	}
	for _, f := range []string{s.Path(), filepath.Join(dir, "broadcast.pid")} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", f, m)
		}
	}
	if pid := readPID(filepath.Join(dir, "broadcast.pid")); pid != os.Getpid() {
		t.Errorf("pid file says %d, want %d", pid, os.Getpid())
	}
	// Nothing but the database and the pid file is left behind.
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 2 {
		t.Errorf("state dir holds %v", names)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "broadcast.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file after Close: %v", err)
	}
}

func TestOpenRefusesSharedFile(t *testing.T) {
	skipWindows(t)
	dir := stateDir(t)
	s := open(t, dir)
	s.Close()
	if err := os.Chmod(s.Path(), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := Open(dir, Options{})
	var pe *PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("Open: %v, want PermissionError", err)
	}
	if pe.Path != s.Path() || pe.Mode.Perm() != 0o644 {
		t.Errorf("got %+v", pe)
	}
	want := fmt.Sprintf("state file %s is readable by others (mode 0644)", s.Path())
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestOpenRefusesSharedDir(t *testing.T) {
	skipWindows(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Path != dir {
		t.Fatalf("Open: %v, want PermissionError for %s", err, dir)
	}
	if want := "state dir " + dir + " is readable by others (mode 0750)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state.db created in a shared dir: %v", err)
	}
}

func TestPermissionErrorText(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		want string
	}{
		{0o604, "state file /x/state.db is readable by others (mode 0604)"},
		{0o620, "state file /x/state.db is writable by others (mode 0620)"},
		{0o601, "state file /x/state.db is accessible by others (mode 0601)"},
		{fs.ModeDir | 0o755, "state dir /x/state.db is readable by others (mode 0755)"},
	} {
		err := &PermissionError{Path: "/x/state.db", Mode: tc.mode}
		if err.Error() != tc.want {
			t.Errorf("%v: %q, want %q", tc.mode, err, tc.want)
		}
	}
}

func TestLockInProcess(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)

	start := time.Now()
	_, err := Open(dir, Options{})
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Open took %v", d)
	}
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open: %v, want LockedError", err)
	}
	if le.PID != os.Getpid() || le.Path != s.Path() {
		t.Errorf("got %+v, want pid %d", le, os.Getpid())
	}
	if want := fmt.Sprintf("another broadcast is running (pid %d)", os.Getpid()); err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}

	s.Close()
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestLockedErrorUnknownPID(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "broadcast.pid"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{LockTimeout: 50 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != 0 {
		t.Fatalf("Open: %v, want LockedError without pid", err)
	}
	if err.Error() != "another broadcast is running (pid unknown)" {
		t.Errorf("Error() = %q", err)
	}
	s.Close()
}

func TestLockAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := stateDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STORE_HELPER=1", "STORE_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("helper said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Wait() // so stderr is complete
			t.Fatalf("helper: %v (stderr: %s)", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("helper did not get ready")
	}

	start := time.Now()
	_, err = Open(dir, Options{})
	if d := time.Since(start); d > time.Second {
		t.Errorf("Open took %v", d)
	}
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open while helper runs: %v, want LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Errorf("LockedError pid %d, want helper's %d", le.PID, cmd.Process.Pid)
	}

	// SIGKILL: the helper gets no chance to clean up, but the kernel drops
	// its lock with the process.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the helper died: %v", err)
	}
	defer s.Close()
	if pid := readPID(filepath.Join(dir, "broadcast.pid")); pid != os.Getpid() {
		t.Errorf("pid file says %d after takeover, want %d", pid, os.Getpid())
	}
}

// validDB returns the bytes of a closed state.db holding enough peers to
// span many pages, and the size its meta page says it needs.
func validDB(t *testing.T) ([]byte, int) {
	t.Helper()
	dir := stateDir(t)
	s := open(t, dir)
	v, err := encode(Peer{Kind: KindUser, ID: 1, FirstName: strings.Repeat("x", 50)})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range 2000 {
			if err := tx.Bucket(bucketPeers).Put([]byte(fmt.Sprintf("@user%d", i)), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	s.Close()
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b, int(size)
}

func TestOpenCorrupt(t *testing.T) {
	valid, used := validDB(t)
	if used < 128<<10 {
		t.Fatalf("valid db uses only %d bytes; truncation cases need more", used)
	}
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + i>>8)
	}

	foreign := func() []byte {
		path := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("something"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		b, _ := os.ReadFile(path)
		return b
	}()

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", garbage},
		{"short garbage", []byte("hello, world\n")},
		{"truncated to 100 bytes", valid[:100]},
		{"truncated to one page", valid[:4096]},
		{"truncated to 5000 bytes", valid[:5000]},
		{"truncated to 16KiB", valid[:16<<10]},
		{"truncated to 100KiB", valid[:100<<10]},
		{"last used page cut off", valid[:used-4096]},
		{"last used page cut short", valid[:used-1]},
		{"meta pages zeroed", append(make([]byte, 8192), valid[8192:]...)},
		{"foreign bbolt file", foreign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stateDir(t)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "state.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %v, want CorruptError", err)
			}
			if ce.Path != path || !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("file changed: %d bytes, was %d", len(got), len(tc.data))
			}
			names, _ := filepath.Glob(filepath.Join(dir, "*"))
			if len(names) != 1 {
				t.Errorf("state dir holds %v", names)
			}
		})
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	if err := s.StoreSession([]byte("key")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	got, err := s.LoadSession()
	if err != nil || string(got) != "key" {
		t.Fatalf("LoadSession after reopen: %q, %v", got, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := stateDir(t)
	s := open(t, dir)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir, Options{})
	var ce *CorruptError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("Open: %v, want a schema version error", err)
	}
}
