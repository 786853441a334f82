package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runInProcess runs broadcast in this process and returns stdout, stderr
// and the exit code.
func runInProcess(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"broadcast"}, args...), strings.NewReader(""), &out, &errOut, nil)
	return out.String(), errOut.String(), code
}

// docs/broadcast.1 is what `go generate ./cmd/broadcast` writes: regenerate
// it in-process and compare, so a changed flag or command cannot leave the
// committed man page behind.
func TestManPageUpToDate(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "docs", "broadcast.1"))
	if err != nil {
		t.Fatalf("%v (run: go generate ./cmd/broadcast)", err)
	}
	got, stderr, code := runInProcess(t, "man")
	if code != 0 {
		t.Fatalf("broadcast man: exit %d: %s", code, stderr)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("docs/broadcast.1 is stale at line %d:\n  have: %s\n  want: %s\nrun: go generate ./cmd/broadcast", i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("docs/broadcast.1 is stale (%d lines, want %d); run: go generate ./cmd/broadcast", len(wl), len(gl))
	}
	for _, s := range []string{".TH broadcast 1", "session export", "--proxy", "Examples:"} {
		if !strings.Contains(got, s) {
			t.Errorf("the man page lacks %q", s)
		}
	}
}

// Every command, subcommand and the app itself has --help with examples.
func TestEveryCommandHasExamples(t *testing.T) {
	app := newApp(context.Background(), newStreams(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, nil))
	paths := [][]string{{}}
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string(nil), prefix...), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	walk(nil, app.Commands)
	if len(paths) < 15 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		name := strings.TrimSpace("broadcast " + strings.Join(p, " "))
		out, stderr, code := runInProcess(t, append(p, "--help")...)
		if code != 0 {
			t.Errorf("%s --help: exit %d: %s", name, code, stderr)
			continue
		}
		if !strings.Contains(out, "Examples:\n") {
			t.Errorf("%s --help has no Examples: section:\n%s", name, out)
		}
		if !strings.Contains(out, "   "+name+" ") {
			t.Errorf("%s --help does not name the command as typed:\n%s", name, out)
		}
		if strings.Contains(out, "   broadcast broadcast ") {
			t.Errorf("%s --help says broadcast twice:\n%s", name, out)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct{ shell, want string }{
		{"bash", "complete -o bashdefault -o default -o nospace -F _broadcast_bash_autocomplete broadcast\n"},
		{"zsh", "#compdef broadcast\n"},
		{"fish", "complete -c broadcast -n '__fish_broadcast_no_subcommand' -f -l proxy"},
	} {
		out, stderr, code := runInProcess(t, "completion", tc.shell)
		if code != 0 || stderr != "" {
			t.Errorf("completion %s: exit %d, stderr %q", tc.shell, code, stderr)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("completion %s lacks %q:\n%s", tc.shell, tc.want, out)
		}
		if strings.Contains(out, "$PROG") {
			t.Errorf("completion %s still uses $PROG instead of broadcast", tc.shell)
		}
	}
	for _, args := range [][]string{{"completion", "powershell"}, {"completion"}, {"completion", "bash", "zsh"}} {
		_, stderr, code := runInProcess(t, args...)
		if code != 2 || !strings.Contains(stderr, "broadcast: error: ") || !strings.Contains(stderr, "broadcast: hint: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2, an error and a hint", args, code, stderr)
		}
	}
}
