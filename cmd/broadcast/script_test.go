package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// binDir holds the broadcast binary built once for all end-to-end tests.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "broadcast-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	bin := filepath.Join(dir, "broadcast")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build broadcast:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandboxes maps a script's $WORK to the sandbox it started.
var sandboxes sync.Map

func serverOf(ts *testscript.TestScript) *sandbox.Server {
	v, ok := sandboxes.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("no sandbox: run sandbox-start first")
	}
	return v.(*sandbox.Server)
}

// TestScripts runs the CLI end to end: the built binary against a sandbox
// server on 127.0.0.1, one per script, with HOME and every BROADCAST_*
// pointed into the script's directory.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, "testdata/script"))
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "home", ".config"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(work, "home", ".state"))
			// What sandbox-start would return: scripts without a sandbox
			// have the same files, and none of the tester's own.
			for _, kv := range sandboxEnv(work) {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			env.Setenv("BOT_TOKEN", sandbox.BotToken)
			env.Defer(func() { sandboxes.Delete(work) }) // sandbox-start closes it
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sandbox-start": cmdSandboxStart,
			"inbox":         cmdInbox,
			"calls":         cmdCalls,
			"uploaded":      cmdUploaded,
			"jsonfield":     cmdJSONField,
			"perm":          cmdPerm,
		},
		RequireExplicitExec: false,
	}
}

// sandbox-start [-users N] [-password P] [-blocked 2,3] [-latency D]
// [-send-rate R] [-resolve-limit N] [-drop P] [-ack] [-seed N] [-slowmode D]
// starts a sandbox and writes $WORK/config.yaml and $WORK/server.pem.
func cmdSandboxStart(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("sandbox-start", flag.ContinueOnError)
	users := fs.Int("users", 5, "")
	password := fs.String("password", "", "")
	blocked := fs.String("blocked", "", "")
	latency := fs.Duration("latency", 0, "")
	rate := fs.Float64("send-rate", 0, "")
	resolveLimit := fs.Int("resolve-limit", 0, "")
	drop := fs.Float64("drop", 0, "")
	ack := fs.Bool("ack", false, "")
	seed := fs.Uint64("seed", 0, "")
	slowmode := fs.Duration("slowmode", 0, "")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("sandbox-start: %v", err)
	}
	if fs.NArg() != 0 {
		ts.Fatalf("usage: sandbox-start [-users N] [-password P] [-blocked 2,3] [-latency D] [-send-rate R] [-resolve-limit N] [-drop P] [-ack] [-seed N] [-slowmode D]")
	}
	bl, err := parseInts(*blocked)
	ts.Check(err)
	// The environment it returns is the one Setup put in place.
	srv, _ := startSandbox(scriptT{ts}, sandbox.Options{
		Users: *users, Password: *password, Blocked: bl, Latency: *latency, SendRate: *rate,
		ResolveLimit: *resolveLimit, DropAnswer: *drop, AckBeforeDrop: *ack, Seed: *seed, SlowMode: *slowmode,
	}, ts.Getenv("WORK"))
	sandboxes.Store(ts.Getenv("WORK"), srv)
}

// inbox NAME [COUNT [TEXT]] checks how many messages NAME received and,
// when TEXT is given, that every one of them is exactly TEXT. With -json it
// prints the inbox to stdout for later checks. NAME is a friend, or a chat
// as broadcast names it (@sandbox_forum, t.me/c/2004, -1001, its title),
// and CHAT/TOPIC counts only that forum topic's messages (CHAT/1: those in
// the General topic); see inboxOf.
func cmdInbox(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 || len(args) > 3 || args[0] == "-json" && len(args) != 2 {
		ts.Fatalf("usage: inbox NAME [COUNT [TEXT]] | inbox -json NAME")
	}
	srv := serverOf(ts)
	if args[0] == "-json" {
		b, err := json.Marshal(inboxOf(srv, args[1]))
		ts.Check(err)
		ts.Stdout().Write(append(b, '\n'))
		return
	}
	in := inboxOf(srv, args[0])
	if len(args) == 1 {
		for _, m := range in {
			fmt.Fprintf(ts.Stdout(), "%s\n", m.Text)
		}
		return
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	ok := len(in) == want
	if ok && len(args) > 2 {
		for _, m := range in {
			if m.Text != args[2] {
				ok = false
			}
		}
	}
	if ok == neg {
		var texts []string
		for _, m := range in {
			texts = append(texts, strconv.Quote(m.Text))
		}
		ts.Fatalf("inbox %s: %d messages [%s], want %s%d", args[0], len(in), strings.Join(texts, ", "), notIf(neg), want)
	}
}

// calls METHOD COUNT: the sandbox answered METHOD exactly COUNT times.
func cmdCalls(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: calls METHOD COUNT")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	got := serverOf(ts).Calls(args[0])
	if (got == want) == neg {
		ts.Fatalf("calls %s = %d, want %s%d", args[0], got, notIf(neg), want)
	}
}

// uploaded BYTES: the sandbox received exactly BYTES in upload parts.
func cmdUploaded(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: uploaded BYTES")
	}
	want, err := strconv.ParseInt(args[0], 10, 64)
	ts.Check(err)
	if got := serverOf(ts).UploadedBytes(); (got == want) == neg {
		ts.Fatalf("uploaded %d bytes, want %s%d", got, notIf(neg), want)
	}
}

// jsonfield FILE LINE KEY VALUE: line LINE (1-based; -1 is the last) of the
// JSON Lines FILE has KEY (dotted path) equal to VALUE (compared as JSON
// text, strings unquoted).
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: jsonfield FILE LINE KEY VALUE")
	}
	data := ts.ReadFile(args[0])
	lines := strings.Split(strings.TrimSpace(data), "\n")
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 0 {
		n = len(lines) + 1 + n
	}
	if n < 1 || n > len(lines) {
		ts.Fatalf("%s has %d lines, no line %s", args[0], len(lines), args[1])
	}
	var v any
	if err := json.Unmarshal([]byte(lines[n-1]), &v); err != nil {
		ts.Fatalf("line %d of %s is not JSON: %v", n, args[0], err)
	}
	for _, k := range strings.Split(args[2], ".") {
		m, ok := v.(map[string]any)
		if !ok {
			ts.Fatalf("line %d: %s is not an object", n, k)
		}
		v = m[k]
	}
	got := ""
	switch x := v.(type) {
	case string:
		got = x
	case nil:
		got = "<missing>"
	default:
		b, _ := json.Marshal(x)
		got = string(b)
	}
	if (got == args[3]) == neg {
		ts.Fatalf("line %d %s = %s, want %s%s", n, args[2], got, notIf(neg), args[3])
	}
}

// perm PATH MODE: the file's permission bits are MODE (octal).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm PATH MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := uint64(fi.Mode().Perm()); (got == want) == neg {
		ts.Fatalf("%s mode %o, want %s%o", args[0], got, notIf(neg), want)
	}
}

func notIf(neg bool) string {
	if neg {
		return "not "
	}
	return ""
}
