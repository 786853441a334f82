package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// syncBuffer is a bytes.Buffer safe to fill from one goroutine and read
// from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ttyStreams names the streams of a command that startOnTTY puts on the
// terminal.
type ttyStreams uint8

const (
	ttyStdin ttyStreams = 1 << iota
	ttyStdout
	ttyStderr
)

// terminal is a pseudo-terminal a command runs on, and what it showed.
type terminal struct {
	cmd    *exec.Cmd
	ptmx   *os.File
	screen syncBuffer
	done   chan struct{} // closed when the terminal can show nothing more
}

// startOnTTY starts c with the streams in on attached to a new
// pseudo-terminal, as a person at a shell has them (the others stay as c
// has them), and records what the terminal shows. Without pseudo-terminals
// the test is skipped. When the test ends, c is killed if it still runs and
// the terminal is closed.
func startOnTTY(t *testing.T, c *exec.Cmd, on ttyStreams) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if on&ttyStdin != 0 {
		c.Stdin = tty
	}
	if on&ttyStdout != 0 {
		c.Stdout = tty
	}
	if on&ttyStderr != 0 {
		c.Stderr = tty
	}
	err = c.Start()
	tty.Close() // the child has its own; the screen ends when it exits
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill() })
	term := &terminal{cmd: c, ptmx: ptmx, done: make(chan struct{})}
	go func() {
		io.Copy(&term.screen, ptmx) // ends with EIO when the child exits
		close(term.done)
	}()
	return term
}

// String is what the terminal has shown so far.
func (term *terminal) String() string { return term.screen.String() }

// waitFor waits up to within until the terminal has shown text n times in
// all.
func (term *terminal) waitFor(t *testing.T, text string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for strings.Count(term.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q (x%d) on the terminal:\n%s", text, n, term.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// input types s at the terminal.
func (term *terminal) input(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(term.ptmx, s); err != nil {
		t.Fatal(err)
	}
}

// exit waits for the command to exit, then up to 5s for the terminal to
// show the last it wrote, and returns its exit code.
func (term *terminal) exit(t *testing.T) int {
	t.Helper()
	code, _ := exitOf(t, term.cmd)
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
	}
	return code
}

// runOnTTY runs broadcast to the end with the streams in on attached to a
// pseudo-terminal and env added to its environment; it fails the test
// unless broadcast exits 0, and returns its stdout (when that is not on the
// terminal) and what the terminal showed.
func (e *e2e) runOnTTY(t *testing.T, on ttyStreams, env []string, args ...string) (stdout, screen string) {
	t.Helper()
	c := e.cmd(args...)
	c.Env = slices.Concat(c.Env, env)
	var out bytes.Buffer
	c.Stdout = &out
	term := startOnTTY(t, c, on)
	if code := term.exit(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	return out.String(), term.String()
}
