package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// startSend starts a slow broadcast to friends 1…n and waits until the
// sandbox has delivered at least first of them.
func (e *e2e) startSend(t *testing.T, n, first int, args ...string) (*bytes.Buffer, func() (int, time.Duration)) {
	t.Helper()
	c := e.cmd(append([]string{"send", "--json", "--rate", "10", "--to", friends(n)}, args...)...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Signal(syscall.SIGKILL) })
	deadline := time.Now().Add(20 * time.Second)
	for e.srv.Delivered() < first && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return &out, func() (int, time.Duration) { return exitOf(t, c) }
}

// The server goes away under a running send and does not come back: the
// run waits (and says so) for --reconnect-wait, then stops at once as one
// event: exit 1, nobody reported failed, the journal resumable.
func TestConnectionLostStopsTheRun(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n})
	e.env = append(e.env, "BROADCAST_RECONNECT_WAIT=3s")
	out, wait := e.startSend(t, n, 5, "server gone")
	e.srv.Close()
	lostAt := time.Now()
	code, _ := wait()
	took := time.Since(lostAt)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, tail(out.String()))
	}
	text := out.String()
	for _, want := range []string{"lost the connection to", "sends are paused", "did not come back within 3s", "broadcast resume"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, tail(text))
		}
	}
	if strings.Contains(text, `"status":"failed"`) {
		t.Errorf("a recipient was reported failed for a lost connection:\n%s", tail(text))
	}
	// Bounded: the wait plus the time for in-flight sends to give up.
	if took > 15*time.Second {
		t.Errorf("stopped %s after the server went away", took)
	}
	t.Logf("stopped %s after the server went away (--reconnect-wait 3s):\n%s", took.Round(10*time.Millisecond), tail(text))
	e.noRunningBroadcast(t)
}

// The server restarts (same key and sessions) under a running send: the
// run announces the loss, waits, carries on when it is back, and everyone
// gets exactly one copy.
func TestConnectionComesBack(t *testing.T) {
	const n = 40
	opts := sandbox.Options{Users: n, StateDir: t.TempDir()}
	e := newE2E(t, opts)
	out, wait := e.startSend(t, n, 5, "server restart")
	opts.Addr = e.srv.Addr()
	e.srv.Close()
	time.Sleep(2 * time.Second)
	srv, err := launchSandbox(t, opts) // the same key, address and state
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	if code, _ := wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, tail(out.String()))
	}
	for _, want := range []string{"lost the connection", "the connection is back"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, tail(out.String()))
		}
	}
	e.exactlyOnce(n, "server restart")
}

// The server comes back with another RSA key (a different server at the
// same address): the session must not go to it, and no wait can help, so
// the run stops at once.
func TestServerKeyChangedStopsAtOnce(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n})
	out, wait := e.startSend(t, n, 5, "key changed")
	addr := e.srv.Addr()
	e.srv.Close()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := launchSandbox(t, sandbox.Options{Users: n, Addr: addr, Key: other})
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	start := time.Now()
	code, _ := wait()
	t.Logf("output:\n%s", tail(out.String()))
	if code != 1 || !strings.Contains(out.String(), "RSA key") {
		t.Fatalf("exit %d after %s:\n%s", code, time.Since(start), tail(out.String()))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s to stop", took)
	}
	if got := srv.Delivered(); got != 0 {
		t.Fatalf("the other server got %d messages", got)
	}
}

// The server restarts with the same key but has forgotten every session
// (no state kept): the saved session is dead, which no wait can fix, so the
// run stops at once with exit 4 and the login hint.
func TestForgottenSessionStopsAtOnce(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n})
	out, wait := e.startSend(t, n, 5, "forgotten")
	addr := e.srv.Addr()
	e.srv.Close()
	srv, err := launchSandbox(t, sandbox.Options{Users: n, Addr: addr})
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	start := time.Now()
	code, _ := wait()
	if code != 4 || !strings.Contains(out.String(), "broadcast login") {
		t.Fatalf("exit %d after %s:\n%s", code, time.Since(start), tail(out.String()))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s to stop", took)
	}
	if got := srv.Delivered(); got != 0 {
		t.Fatalf("the restarted server took %d messages from a dead session", got)
	}
	t.Logf("stopped %s after the restart:\n%s", time.Since(start).Round(10*time.Millisecond), tail(out.String()))
	e.noRunningBroadcast(t)
}
