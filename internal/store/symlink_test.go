package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// victim makes a file outside the state dir for a link to point at, as
// /etc/passwd would be, and returns its path.
func victim(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// untouched fails t if the victim at path changed.
func untouched(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("%s now holds %q", path, b)
	}
	if m := mode(t, path); m != 0o644 {
		t.Errorf("%s: mode %04o, want 0644 as it was", path, m)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func wantSymlinkError(t *testing.T, err error, path, target string, dir bool) {
	t.Helper()
	var se *SymlinkError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SymlinkError", err)
	}
	if se.Path != path || se.Target != target || se.Dir != dir {
		t.Errorf("got %+v, want {%s %s %v}", se, path, target, dir)
	}
}

func privateDir(t *testing.T) string {
	t.Helper()
	dir := stateDir(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenRefusesSymlinkedStateFile(t *testing.T) {
	skipWindows(t)
	dir := privateDir(t)
	target := victim(t)
	link := filepath.Join(dir, "state.db")
	symlink(t, target, link)

	_, err := Open(dir, Options{})
	wantSymlinkError(t, err, link, target, false)
	want := "state file " + link + " is a symbolic link (to " + target + "); broadcast does not follow links in its state dir"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if errors.As(err, new(*PermissionError)) {
		t.Error("a PermissionError would have the CLI suggest chmod on the link")
	}
	untouched(t, target)
}

func TestOpenRefusesDanglingStateFile(t *testing.T) {
	skipWindows(t)
	dir := privateDir(t)
	target := filepath.Join(t.TempDir(), "nothing-here")
	link := filepath.Join(dir, "state.db")
	symlink(t, target, link)

	_, err := Open(dir, Options{})
	wantSymlinkError(t, err, link, target, false)
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the link's target: %v", err)
	}
	// Only the link is there; no temporary database left behind either.
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("state dir holds %v", names)
	}
}

func TestOpenRefusesSymlinkedStateDir(t *testing.T) {
	skipWindows(t)
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o755); err != nil { // shared, as /etc is
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "state")
	symlink(t, real, link)

	for _, dir := range []string{link, link + "/"} {
		_, err := Open(dir, Options{})
		wantSymlinkError(t, err, link, real, true)
		if want := "state dir " + link + " is a symbolic link (to " + real + "); broadcast does not follow a link to its state dir"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
		_, err = OpenSnapshot(dir)
		wantSymlinkError(t, err, link, real, true)
	}
	if m := mode(t, real); m != 0o755 {
		t.Errorf("target dir chmodded to %04o", m)
	}
	if names, _ := filepath.Glob(filepath.Join(real, "*")); len(names) != 0 {
		t.Errorf("files created through the link: %v", names)
	}
}

// A link further up is the user's business (a dotfile manager may link
// ~/.local/state); only the state dir itself and what is in it are checked.
func TestOpenFollowsLinkedParent(t *testing.T) {
	skipWindows(t)
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "parent")
	symlink(t, real, link)
	s := open(t, filepath.Join(link, "state"))
	if _, err := os.Stat(filepath.Join(real, "state", "state.db")); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenRefusesSymlinkedPIDFile(t *testing.T) {
	skipWindows(t)
	dir := stateDir(t)
	s := open(t, dir)
	s.Close()
	target := victim(t)
	link := filepath.Join(dir, "broadcast.pid")
	symlink(t, target, link)

	_, err := Open(dir, Options{})
	wantSymlinkError(t, err, link, target, false)
	untouched(t, target)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced or removed: %v", err)
	}
}

// The pid file is only read for a LockedError; a link there must not be
// followed, and its target's content must not end up in the message.
func TestReadPIDDoesNotFollowLinks(t *testing.T) {
	skipWindows(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "broadcast.pid")
	symlink(t, target, link)
	if pid := readPID(link); pid != 0 {
		t.Errorf("readPID through a link = %d", pid)
	}
	if pid := readPID(target); pid != 4242 {
		t.Errorf("readPID = %d, want 4242", pid)
	}
}

// A link that appears after the Lstat checks is still refused, by
// O_NOFOLLOW in openBolt.
func TestOpenBoltRefusesLink(t *testing.T) {
	skipWindows(t)
	valid, _ := validDB(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "real.db")
	if err := os.WriteFile(target, valid, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state.db")
	symlink(t, target, link)
	for _, ro := range []bool{true, false} {
		_, err := openBolt(link, "", defaultLockTimeout, ro)
		wantSymlinkError(t, err, link, target, false)
	}
}

func TestSymlinkErrorText(t *testing.T) {
	err := &SymlinkError{Path: "/x/state.db"}
	if want := "state file /x/state.db is a symbolic link; broadcast does not follow links in its state dir"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func skipRoot(t *testing.T) {
	t.Helper()
	skipWindows(t)
	if os.Geteuid() == 0 {
		t.Skip("root can write anyway")
	}
}

// chmodBack restores a mode at the end of the test, so that the temporary
// directory can be removed.
func chmodBack(t *testing.T, path string) {
	t.Cleanup(func() { os.Chmod(path, 0o700) })
}

func wantNotWritable(t *testing.T, err error, path string, dir bool, perm fs.FileMode) {
	t.Helper()
	var ne *NotWritableError
	if !errors.As(err, &ne) {
		t.Fatalf("got %v, want NotWritableError", err)
	}
	if ne.Path != path || ne.Dir != dir || ne.Mode.Perm() != perm {
		t.Errorf("got %+v, want {%s dir=%v mode %04o}", ne, path, dir, perm)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("%v does not unwrap to fs.ErrPermission", err)
	}
}

func TestOpenNotWritableDir(t *testing.T) {
	skipRoot(t)
	t.Run("new", func(t *testing.T) {
		dir := privateDir(t)
		os.Chmod(dir, 0o500)
		chmodBack(t, dir)
		_, err := Open(dir, Options{})
		wantNotWritable(t, err, dir, true, 0o500)
		if want := "state dir " + dir + " is not writable (mode 0500)"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	})
	t.Run("existing", func(t *testing.T) {
		// state.db is there and writable; the pid file cannot be made.
		dir := stateDir(t)
		s := open(t, dir)
		s.Close()
		os.Chmod(dir, 0o500)
		chmodBack(t, dir)
		_, err := Open(dir, Options{})
		wantNotWritable(t, err, dir, true, 0o500)
		// And the lock was released on the way out.
		os.Chmod(dir, 0o700)
		open(t, dir).Close()
	})
	t.Run("state file", func(t *testing.T) {
		dir := stateDir(t)
		s := open(t, dir)
		s.Close()
		os.Chmod(s.Path(), 0o400)
		_, err := Open(dir, Options{})
		wantNotWritable(t, err, s.Path(), false, 0o400)
		if want := "state file " + s.Path() + " is not writable (mode 0400)"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	})
}

func TestNotWritableErrorText(t *testing.T) {
	err := &NotWritableError{Path: "/x", Dir: true, Mode: fs.ModeDir | 0o700,
		Err: &fs.PathError{Op: "open", Path: "/x/y", Err: errors.New("read-only file system")}}
	if want := "state dir /x is not writable: read-only file system"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}
