package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// screen collects what a pseudo-terminal shows, for waiting on prompts.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows text n times in all.
func (s *screen) waitFor(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q (x%d) on the terminal:\n%s", text, n, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A person at a terminal who mistypes the login code is asked again, up to
// three codes in all; the right one then logs in.
func TestLoginCodeRetriesOnTerminal(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 2})
	ptmx, tt, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	c := e.cmd("login", "--phone", "+15550000000")
	c.Stdin, c.Stdout, c.Stderr = tt, tt, tt
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tt.Close()
	var scr screen
	go io.Copy(&scr, ptmx)

	scr.waitFor(t, "Login code", 1)
	io.WriteString(ptmx, "11111\n")
	scr.waitFor(t, "try again (2 tries left)", 1)
	scr.waitFor(t, "Login code", 2)
	io.WriteString(ptmx, "22222\n")
	code, _ := exitOf(t, c)
	if code != 0 || !strings.Contains(scr.String(), "logged in as") {
		t.Fatalf("exit %d:\n%s", code, scr.String())
	}

	// Three wrong codes: exit 4, the code named.
	out, code := e.run("logout")
	if code != 0 {
		t.Fatalf("logout: %d %s", code, out)
	}
	ptmx2, tt2, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	c = e.cmd("login", "--phone", "+15550000000")
	c.Stdin, c.Stdout, c.Stderr = tt2, tt2, tt2
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tt2.Close()
	var scr2 screen
	go io.Copy(&scr2, ptmx2)
	for i := 1; i <= 3; i++ {
		scr2.waitFor(t, "Login code", i)
		io.WriteString(ptmx2, "11111\n")
	}
	code, _ = exitOf(t, c)
	if code != 4 || !strings.Contains(scr2.String(), "the login code is not valid") || !strings.Contains(scr2.String(), "1 try left") {
		t.Fatalf("exit %d:\n%s", code, scr2.String())
	}
}
