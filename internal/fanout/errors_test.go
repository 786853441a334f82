package fanout

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestErrorWrappers(t *testing.T) {
	cause := errors.New("AUTH_KEY_UNREGISTERED")

	if Temporary(nil) != nil || Fatal(nil) != nil {
		t.Error("wrapping nil should give nil")
	}

	tmp := fmt.Errorf("send: %w", Temporary(cause))
	if !IsTemporary(tmp) || IsFatal(tmp) || !errors.Is(tmp, cause) || tmp.Error() != "send: AUTH_KEY_UNREGISTERED" {
		t.Errorf("Temporary: %v", tmp)
	}

	fatal := fmt.Errorf("send: %w", Fatal(cause))
	if !IsFatal(fatal) || IsTemporary(fatal) || !errors.Is(fatal, cause) || fatal.Error() != "send: AUTH_KEY_UNREGISTERED" {
		t.Errorf("Fatal: %v", fatal)
	}

	if IsTemporary(cause) || IsFatal(cause) || IsTemporary(nil) || IsFatal(nil) {
		t.Error("a plain error is neither temporary nor fatal")
	}

	fw := fmt.Errorf("send: %w", &FloodWaitError{Wait: 30 * time.Second, Err: cause})
	var got *FloodWaitError
	if !errors.As(fw, &got) || got.Wait != 30*time.Second || !errors.Is(fw, cause) {
		t.Errorf("FloodWaitError not found through wrapping: %v", fw)
	}
	if want := "send: flood wait 30s: AUTH_KEY_UNREGISTERED"; fw.Error() != want {
		t.Errorf("message = %q, want %q", fw, want)
	}
	if got := (&FloodWaitError{Wait: time.Second}).Error(); got != "flood wait 1s" {
		t.Errorf("message without cause = %q", got)
	}

	ns := notSent(Fatal(cause))
	if !errors.Is(ns, ErrNotSent) || !errors.Is(ns, cause) || ns.Error() != "not sent: run stopped: AUTH_KEY_UNREGISTERED" {
		t.Errorf("not sent: %v", ns)
	}
}
