package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// lockedBuffer is a bytes.Buffer safe to fill from one goroutine and read
// from another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// On a terminal, import asks for the string and reads it without echo: the
// secret never shows on the screen.
func TestSessionImportFromTerminalDoesNotEcho(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	exported, code := e.run("session", "export", "-q")
	if code != 0 || !strings.HasPrefix(exported, "bcs1.") {
		t.Fatalf("export: exit %d: %s", code, exported)
	}
	secret := strings.TrimSpace(exported)

	ptmx, tt, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	c := e.cmd("session", "import")
	c.Env = append(c.Env, "BROADCAST_STATE_DIR="+filepath.Join(e.dir, "state2"))
	var out bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = tt, &out, tt
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tt.Close()
	var screen lockedBuffer
	done := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx) // ends with EIO when the child exits
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(screen.String(), "Session string") {
		if time.Now().After(deadline) {
			c.Process.Kill()
			t.Fatalf("no prompt on the terminal: %q", screen.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ptmx.Write([]byte(secret + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out.String(), screen.String())
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if !strings.Contains(out.String(), "imported the session of Sandbox Bot") {
		t.Errorf("stdout: %q", out.String())
	}
	if strings.Contains(screen.String(), secret[:24]) {
		t.Errorf("the session string was echoed on the terminal: %q", screen.String())
	}
	e.env = append(e.env, "BROADCAST_STATE_DIR="+filepath.Join(e.dir, "state2"))
	if who, code := e.run("whoami"); code != 0 || !strings.Contains(who, "Sandbox Bot") {
		t.Fatalf("whoami after import: exit %d: %s", code, who)
	}
}
