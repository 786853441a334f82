package telegram

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/fanout"
)

func TestClassifyNil(t *testing.T) {
	if err := classify(nil); err != nil {
		t.Fatalf("classify(nil) = %v", err)
	}
}

func TestClassifyFloodWait(t *testing.T) {
	cases := []struct {
		code int
		msg  string
		wait time.Duration
	}{
		{420, "FLOOD_WAIT_30", 30 * time.Second},
		{420, "FLOOD_PREMIUM_WAIT_5", 5 * time.Second},
		// Zero is still a flood wait; fanout raises it to its minimum.
		{420, "FLOOD_WAIT_0", 0},
	}
	for _, c := range cases {
		t.Run(c.msg, func(t *testing.T) {
			src := tgerr.New(c.code, c.msg)
			// gotd wraps RPC errors on their way up; classify must see through that.
			for _, in := range []error{src, fmt.Errorf("send message: %w", src)} {
				err := classify(in)
				var fw *fanout.FloodWaitError
				if !errors.As(err, &fw) {
					t.Fatalf("classify(%v) = %T %v, want *fanout.FloodWaitError", in, err, err)
				}
				if fw.Wait != c.wait {
					t.Fatalf("Wait = %v, want %v", fw.Wait, c.wait)
				}
				if fanout.IsFatal(err) || fanout.IsTemporary(err) {
					t.Fatalf("flood wait also marked fatal/temporary: %v", err)
				}
				if !errors.Is(err, src) {
					t.Fatalf("flood wait does not wrap the RPC error: %v", err)
				}
			}
		})
	}
}

func TestClassifyFatal(t *testing.T) {
	cases := []struct {
		code int
		msg  string
		want error
	}{
		{400, "PEER_FLOOD", ErrSpamLimited},
		{401, "AUTH_KEY_UNREGISTERED", ErrSessionRevoked},
		{401, "SESSION_REVOKED", ErrSessionRevoked},
		{401, "SESSION_EXPIRED", ErrSessionRevoked},
		{401, "USER_DEACTIVATED", ErrSessionRevoked},
		{406, "AUTH_KEY_DUPLICATED", ErrSessionRevoked},
		// Any other 401 means the session is no longer accepted.
		{401, "SOME_NEW_UNAUTHORIZED", ErrSessionRevoked},
		{420, "FROZEN_METHOD_INVALID", ErrAccountFrozen},
	}
	for _, c := range cases {
		t.Run(c.msg, func(t *testing.T) {
			err := classify(fmt.Errorf("wrapped: %w", tgerr.New(c.code, c.msg)))
			if !fanout.IsFatal(err) {
				t.Fatalf("classify = %v, want fatal", err)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("classify = %v, want it to wrap %v", err, c.want)
			}
			var fw *fanout.FloodWaitError
			if errors.As(err, &fw) {
				t.Fatalf("%s classified as a flood wait", c.msg)
			}
			if fanout.IsTemporary(err) {
				t.Fatalf("%s also temporary", c.msg)
			}
		})
	}
}

func TestClassifyTemporary(t *testing.T) {
	cases := []error{
		tgerr.New(500, "INTERNAL"),
		tgerr.New(500, "TIMEOUT"),
		tgerr.New(400, "TIMEOUT"), // by type, whatever the code
		tgerr.New(500, "RPC_CALL_FAIL"),
		tgerr.New(420, "SLOWMODE_WAIT_10"),
		errors.New("connection reset"),
		fmt.Errorf("engine forcibly closed: %w", errors.New("context canceled")),
	}
	for _, in := range cases {
		t.Run(in.Error(), func(t *testing.T) {
			err := classify(in)
			if !fanout.IsTemporary(err) {
				t.Fatalf("classify(%v) = %T %v, want temporary", in, err, err)
			}
			if fanout.IsFatal(err) {
				t.Fatalf("also fatal: %v", err)
			}
			var fw *fanout.FloodWaitError
			if errors.As(err, &fw) {
				t.Fatalf("classified as a flood wait: %v", err)
			}
			if !errors.Is(err, in) {
				t.Fatalf("does not wrap the original error: %v", err)
			}
			if err.Error() != in.Error() {
				t.Fatalf("message changed: %q, want %q", err.Error(), in.Error())
			}
		})
	}
}

// Telegram's "-503 Timeout" (the server timed out waiting for an internal
// answer) is transient like any other 5xx.
func TestClassifyNegativeTimeout(t *testing.T) {
	in := tgerr.New(-503, "Timeout")
	err := classify(in)
	if !fanout.IsTemporary(err) {
		t.Fatalf("classify(-503 Timeout) = %v, want a temporary error", err)
	}
}

func TestClassifyPermanent(t *testing.T) {
	cases := []struct {
		code int
		msg  string
	}{
		{403, "USER_IS_BLOCKED"},
		{400, "USERNAME_NOT_OCCUPIED"},
		{400, "PEER_ID_INVALID"},
		{400, "INPUT_USER_DEACTIVATED"},
		{403, "CHAT_WRITE_FORBIDDEN"},
	}
	for _, c := range cases {
		t.Run(c.msg, func(t *testing.T) {
			src := tgerr.New(c.code, c.msg)
			err := classify(fmt.Errorf("send: %w", src))
			var rpc *RPCError
			if !errors.As(err, &rpc) {
				t.Fatalf("classify = %T %v, want *RPCError", err, err)
			}
			if rpc.Type != c.msg {
				t.Fatalf("Type = %q, want %q", rpc.Type, c.msg)
			}
			if rpc.Detail == "" {
				t.Fatalf("%s has no Detail", c.msg)
			}
			if fanout.IsTemporary(err) || fanout.IsFatal(err) {
				t.Fatalf("%s: temporary %v fatal %v, want neither", c.msg, fanout.IsTemporary(err), fanout.IsFatal(err))
			}
			var fw *fanout.FloodWaitError
			if errors.As(err, &fw) {
				t.Fatalf("%s classified as a flood wait", c.msg)
			}
			if !errors.Is(err, src) {
				t.Fatalf("RPCError does not wrap the gotd error")
			}
			if want := c.msg + ": " + rpc.Detail; err.Error() != want {
				t.Fatalf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
	// An unknown type is still permanent, and its message is just the type.
	err := classify(tgerr.New(400, "SOMETHING_NEW"))
	var rpc *RPCError
	if !errors.As(err, &rpc) || rpc.Type != "SOMETHING_NEW" || err.Error() != "SOMETHING_NEW" {
		t.Fatalf("unknown type: %T %v", err, err)
	}
}
