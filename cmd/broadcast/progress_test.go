package main

import (
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

func TestProgressBarOnTerminal(t *testing.T) {
	const n = 30
	e := newE2E(t, sandbox.Options{Users: n, Latency: 30 * time.Millisecond})
	stdout, screen := e.runOnTTY(t, ttyStderr, []string{"TERM=xterm"}, "send", "--rate", "0", "--concurrency", "2", "--to", friends(n), "progress")
	if !strings.Contains(screen, "ETA") || !strings.Contains(screen, "/30") || !strings.Contains(screen, "/s") {
		t.Fatalf("no progress bar on the terminal:\n%q", screen)
	}
	if !strings.Contains(screen, "\x1b[32m") {
		t.Errorf("no colour without NO_COLOR:\n%q", screen)
	}
	if strings.Contains(stdout, "ETA") || !strings.Contains(stdout, "30 recipients: 30 sent") {
		t.Errorf("stdout must hold results only:\n%s", stdout)
	}
	e.exactlyOnce(n, "progress")

	// NO_COLOR keeps the bar but drops the colour.
	_, screen = e.runOnTTY(t, ttyStderr, []string{"TERM=xterm", "NO_COLOR=1"}, "send", "--new", "--rate", "0", "--concurrency", "2", "--to", friends(n), "progress")
	if !strings.Contains(screen, "ETA") || strings.Contains(screen, "\x1b[32m") {
		t.Errorf("with NO_COLOR: %q", screen)
	}

	// --json and -q never draw it.
	for _, flag := range []string{"--json", "-q"} {
		_, screen = e.runOnTTY(t, ttyStderr, []string{"TERM=xterm"}, "send", flag, "--new", "--rate", "0", "--to", friends(n), "progress")
		if strings.Contains(screen, "ETA") {
			t.Errorf("progress bar drawn with %s: %q", flag, screen)
		}
	}
}

func TestNoProgressBarInPipe(t *testing.T) {
	const n = 30
	e := newE2E(t, sandbox.Options{Users: n, Latency: 30 * time.Millisecond})
	out, code := e.run("send", "--rate", "0", "--concurrency", "2", "--to", friends(n), "piped")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if strings.Contains(out, "ETA") || strings.Contains(out, "\x1b[") {
		t.Fatalf("progress bar or escapes in a pipe:\n%s", out)
	}
}

// With stdout and stderr on the same terminal, the bar's last frame is
// cleared before the summary: the summary starts its own line.
func TestProgressBarLastFrameNotGluedToSummary(t *testing.T) {
	const n = 25
	e := newE2E(t, sandbox.Options{Users: n, Latency: 10 * time.Millisecond})
	_, s := e.runOnTTY(t, ttyStdout|ttyStderr, []string{"TERM=xterm", "NO_COLOR=1"},
		"send", "--rate", "0", "--concurrency", "2", "--to", friends(n), "one screen")
	i := strings.Index(s, "25 recipients: 25 sent")
	if i < 0 {
		t.Fatalf("no summary on the screen:\n%q", s)
	}
	// What the terminal shows on the summary's line: everything after the
	// last carriage return or clear before it.
	line := s[:i]
	if j := strings.LastIndexAny(line, "\r\n"); j >= 0 {
		line = line[j+1:]
	}
	line = strings.TrimPrefix(line, "\x1b[K")
	if line != "" {
		t.Fatalf("the summary shares its line with %q:\n%q", line, s[max(0, i-200):])
	}
}
