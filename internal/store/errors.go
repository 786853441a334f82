package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotFound is returned, possibly wrapped, when a session, account or
// broadcast does not exist. Test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// LockedError reports that another process holds the database lock, which
// means another broadcast is running on the same state directory.
type LockedError struct {
	PID  int    // pid of the holder from broadcast.pid, or 0 if unknown
	Path string // the database file
}

// Error implements error.
func (e *LockedError) Error() string {
	if e.PID <= 0 {
		return "another broadcast is running (pid unknown)"
	}
	return fmt.Sprintf("another broadcast is running (pid %d)", e.PID)
}

// CorruptError reports that the database file, or a record in it, is not
// what this package wrote: not a bbolt file, truncated, foreign, or holding a
// record that does not decode. The file is left as it was so that the user
// can inspect or move it.
type CorruptError struct {
	Path string // the database file
	Err  error  // what was wrong
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// PermissionError reports that the state directory or database file can be
// reached by users other than its owner. The database holds the session key,
// which is as good as a password, so Open refuses to use it; the caller tells
// the user how to chmod it.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

// Error implements error.
func (e *PermissionError) Error() string {
	what := "state file"
	if e.Mode.IsDir() {
		what = "state dir"
	}
	how := "accessible"
	switch perm := e.Mode.Perm(); {
	case perm&0o044 != 0:
		how = "readable"
	case perm&0o022 != 0:
		how = "writable"
	}
	return fmt.Sprintf("%s %s is %s by others (mode %04o)", what, e.Path, how, e.Mode.Perm())
}

// SymlinkError reports that the state dir, or a file in it that the package
// opens or creates (state.db, broadcast.pid, state.sock), is a symbolic link.
// The package never follows one: a state.db linked to /etc/passwd must not be
// opened, chmodded or overwritten, least of all when running as root. The
// link and its target are left as they are.
type SymlinkError struct {
	Path   string // the link
	Target string // what it points to, as written in the link; "" if unreadable
	Dir    bool   // Path is the state dir itself
}

// Error implements error.
func (e *SymlinkError) Error() string {
	to := ""
	if e.Target != "" {
		to = " (to " + e.Target + ")"
	}
	if e.Dir {
		return fmt.Sprintf("state dir %s is a symbolic link%s; broadcast does not follow a link to its state dir", e.Path, to)
	}
	return fmt.Sprintf("state file %s is a symbolic link%s; broadcast does not follow links in its state dir", e.Path, to)
}

// symlinkError builds the *SymlinkError for the link at path.
func symlinkError(path string, dir bool) error {
	target, _ := os.Readlink(path)
	return &SymlinkError{Path: path, Target: target, Dir: dir}
}

// NotWritableError reports that broadcast cannot write where it must: in the
// state dir (to create state.db, the pid file or a snapshot copy) or to
// state.db itself. Unlike a *PermissionError this is about the owner's own
// access: a directory chmodded 0500, a read-only filesystem, or a state dir
// owned by another user. Mode tells these apart: a missing owner write bit
// is what chmod u+w fixes (if the user owns Path); anything else is not.
type NotWritableError struct {
	Path string      // the state dir, or state.db
	Mode fs.FileMode // its mode when the error was made, 0 if unknown
	Dir  bool        // Path is the state dir
	Err  error       // what the system said
}

// Error implements error.
func (e *NotWritableError) Error() string {
	what := "state file"
	if e.Dir {
		what = "state dir"
	}
	if e.Mode != 0 && e.Mode.Perm()&0o200 == 0 {
		return fmt.Sprintf("%s %s is not writable (mode %04o)", what, e.Path, e.Mode.Perm())
	}
	return fmt.Sprintf("%s %s is not writable: %v", what, e.Path, unwrapSyscall(e.Err))
}

// Unwrap returns the cause, so errors.Is(err, fs.ErrPermission) still holds.
func (e *NotWritableError) Unwrap() error { return e.Err }

// notWritable turns err into a *NotWritableError for path if it says that
// path (a directory if dir) cannot be written, and returns it unchanged
// otherwise.
func notWritable(path string, dir bool, err error) error {
	if err == nil || !(errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		return err
	}
	var mode fs.FileMode
	if fi, serr := os.Lstat(path); serr == nil {
		mode = fi.Mode()
	}
	return &NotWritableError{Path: path, Mode: mode, Dir: dir, Err: err}
}

// unwrapSyscall returns the innermost error of a *fs.PathError, so that a
// message does not repeat the path it already names.
func unwrapSyscall(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ErrReadOnly is returned, wrapped, by every write to a Store from
// OpenSnapshot: it is a copy, and the database it was copied from belongs to
// the broadcast that is running.
var ErrReadOnly = errors.New("the state is a read-only copy while another broadcast is running")

// ErrSocketPathTooLong is returned, wrapped, by ServeReaders when the path of
// state.sock does not fit in a Unix socket address (107 bytes on Linux, 103
// on macOS and the BSDs). Live reads are then unavailable for that state
// dir; everything else works.
var ErrSocketPathTooLong = errors.New("socket path too long")

// corrupt builds a *CorruptError for the file at path.
func corrupt(path string, format string, args ...any) error {
	return &CorruptError{Path: path, Err: fmt.Errorf(format, args...)}
}
