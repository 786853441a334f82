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
	srv := replaceServer(t, sandbox.Options{Users: n, Addr: addr, Key: other})
	stopsAtOnce(t, out, wait, 1, "RSA key")
	if got := srv.Delivered(); got != 0 {
		t.Fatalf("the other server got %d messages", got)
	}
}

// replaceServer starts a server where the test's sandbox was; a port taken
// meanwhile skips the test.
func replaceServer(t *testing.T, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	srv, err := launchSandbox(t, opts)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", opts.Addr, err)
	}
	return srv
}

// stopsAtOnce waits for a run that no wait can help: it must exit with code,
// say want, and not sit out the reconnect wait.
func stopsAtOnce(t *testing.T, out *bytes.Buffer, wait func() (int, time.Duration), code int, want string) {
	t.Helper()
	start := time.Now()
	got, _ := wait()
	took := time.Since(start)
	if got != code || !strings.Contains(out.String(), want) {
		t.Fatalf("exit %d after %s:\n%s", got, took, tail(out.String()))
	}
	if took > 20*time.Second {
		t.Errorf("took %s to stop", took)
	}
	t.Logf("stopped %s after the change of server:\n%s", took.Round(10*time.Millisecond), tail(out.String()))
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
	srv := replaceServer(t, sandbox.Options{Users: n, Addr: addr})
	stopsAtOnce(t, out, wait, 4, "broadcast login")
	if got := srv.Delivered(); got != 0 {
		t.Fatalf("the restarted server took %d messages from a dead session", got)
	}
	e.noRunningBroadcast(t)
}
