package fanout

import (
	"errors"
	"fmt"
	"time"
)

// FloodWaitError reports that the server asked the client to wait before
// repeating a request. Senders return it as a pointer. The engine closes the
// shared flood gate for Wait (at least one second) and then retries the target,
// unless Wait exceeds Options.MaxFloodWait.
type FloodWaitError struct {
	Wait time.Duration
	Err  error // the underlying protocol error, if any
}

// Error implements error.
func (e *FloodWaitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("flood wait %s", e.Wait)
	}
	return fmt.Sprintf("flood wait %s: %v", e.Wait, e.Err)
}

// Unwrap returns the underlying error.
func (e *FloodWaitError) Unwrap() error { return e.Err }

// Sentinel errors found with errors.Is in Result.Err or returned by a Sender.
var (
	// ErrDuplicate is returned by a Sender when the target resolved to a peer
	// that another target already covers. Such a target gets no Result and is
	// left out of every count in the Summary.
	ErrDuplicate = errors.New("duplicate recipient")

	// ErrFloodWaitTooLong is wrapped into the error of a target whose flood
	// wait exceeded Options.MaxFloodWait.
	ErrFloodWaitTooLong = errors.New("flood wait too long")

	// ErrNotSent is wrapped, together with the fatal cause, into the error of
	// every target that was not delivered because a Fatal error stopped the run.
	ErrNotSent = errors.New("not sent: run stopped")

	// ErrInterrupted is wrapped into the error of a target that had already
	// been attempted and was waiting to retry when the caller's context was
	// cancelled.
	ErrInterrupted = errors.New("interrupted")
)

// Temporary marks err as transient: the engine retries the target with
// exponential backoff until Options.RetryFor runs out. It returns nil for a nil
// err. The wrapper adds nothing to the message.
func Temporary(err error) error {
	if err == nil {
		return nil
	}
	return &temporaryError{err}
}

// IsTemporary reports whether err, or an error it wraps, was marked with
// Temporary.
func IsTemporary(err error) bool {
	var t *temporaryError
	return errors.As(err, &t)
}

// Fatal marks err as fatal to the whole run (the account is restricted, the
// session was revoked, ...): no further target is attempted. It returns nil
// for a nil err. The wrapper adds nothing to the message.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

// IsFatal reports whether err, or an error it wraps, was marked with Fatal.
func IsFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

type temporaryError struct{ err error }

func (e *temporaryError) Error() string { return e.err.Error() }
func (e *temporaryError) Unwrap() error { return e.err }

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// FloodWaitTooLongError is the failure of a target whose flood wait was
// longer than Options.MaxFloodWait: it carries both durations, so that the
// caller can say what to raise, and wraps both ErrFloodWaitTooLong and the
// Sender's error.
type FloodWaitTooLongError struct {
	Wait, Max time.Duration // Max is zero for NeverWait
	Err       *FloodWaitError
}

func (e *FloodWaitTooLongError) Error() string {
	msg := fmt.Sprintf("flood wait %s is longer than the %s allowed", e.Wait, e.Max)
	if e.Err.Err != nil {
		msg += ": " + e.Err.Err.Error()
	}
	return msg
}

func (e *FloodWaitTooLongError) Unwrap() []error { return []error{ErrFloodWaitTooLong, e.Err} }

// notSent is the error of a target left undelivered by a Fatal stop: it says
// why, and both ErrNotSent and the cause can be found with errors.Is.
func notSent(cause error) error {
	return fmt.Errorf("%w: %w", ErrNotSent, cause)
}
