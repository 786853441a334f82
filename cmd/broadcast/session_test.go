package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// On a terminal, import asks for the string and reads it without echo: the
// secret never shows on the screen.
func TestSessionImportFromTerminalDoesNotEcho(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	exported, code := e.run("session", "export", "-q")
	if code != 0 || !strings.HasPrefix(exported, "bcs1.") {
		t.Fatalf("export: exit %d: %s", code, exported)
	}
	secret := strings.TrimSpace(exported)

	c := e.cmd("session", "import")
	c.Env = append(c.Env, "BROADCAST_STATE_DIR="+filepath.Join(e.dir, "state2"))
	var out bytes.Buffer
	c.Stdout = &out
	term := startOnTTY(t, c, ttyStdin|ttyStderr)
	term.waitFor(t, "Session string", 1, 10*time.Second)
	term.input(t, secret+"\n")
	if code := term.exit(t); code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, out.String(), term.String())
	}
	if !strings.Contains(out.String(), "imported the session of Sandbox Bot") {
		t.Errorf("stdout: %q", out.String())
	}
	if strings.Contains(term.String(), secret[:24]) {
		t.Errorf("the session string was echoed on the terminal: %q", term.String())
	}
	e.env = append(e.env, "BROADCAST_STATE_DIR="+filepath.Join(e.dir, "state2"))
	if who, code := e.run("whoami"); code != 0 || !strings.Contains(who, "Sandbox Bot") {
		t.Fatalf("whoami after import: exit %d: %s", code, who)
	}
}
