package store

import (
	"errors"
	"fmt"
	"io/fs"
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

// corrupt builds a *CorruptError for the file at path.
func corrupt(path string, format string, args ...any) error {
	return &CorruptError{Path: path, Err: fmt.Errorf(format, args...)}
}
