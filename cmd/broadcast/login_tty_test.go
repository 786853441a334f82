package main

import (
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// promptWait is how long a login on a terminal may take to prompt.
const promptWait = 20 * time.Second

// A person at a terminal who mistypes the login code is asked again, up to
// three codes in all; the right one then logs in.
func TestLoginCodeRetriesOnTerminal(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 2})
	term := startOnTTY(t, e.cmd("login", "--phone", "+15550000000"), ttyStdin|ttyStdout|ttyStderr)
	term.waitFor(t, "Login code", 1, promptWait)
	term.input(t, "11111\n")
	term.waitFor(t, "try again (2 tries left)", 1, promptWait)
	term.waitFor(t, "Login code", 2, promptWait)
	term.input(t, "22222\n")
	if code := term.exit(t); code != 0 || !strings.Contains(term.String(), "logged in as") {
		t.Fatalf("exit %d:\n%s", code, term.String())
	}

	// Three wrong codes: exit 4, the code named.
	out, code := e.run("logout")
	if code != 0 {
		t.Fatalf("logout: %d %s", code, out)
	}
	term = startOnTTY(t, e.cmd("login", "--phone", "+15550000000"), ttyStdin|ttyStdout|ttyStderr)
	for i := 1; i <= 3; i++ {
		term.waitFor(t, "Login code", i, promptWait)
		term.input(t, "11111\n")
	}
	code = term.exit(t)
	if code != 4 || !strings.Contains(term.String(), "the login code is not valid") || !strings.Contains(term.String(), "1 try left") {
		t.Fatalf("exit %d:\n%s", code, term.String())
	}
}
