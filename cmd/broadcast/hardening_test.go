package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// Every command, at the most verbose log level: the API hash, the bot token,
// the login code and the 2FA password never appear in stdout, stderr, or any
// file the tool wrote outside its database.
func TestSecretsNeverAppear(t *testing.T) {
	const (
		apiHash  = "5ec4e75ec4e75ec4e75ec4e75ec4e75e"
		botToken = "424242:SeCrEtBoTtOkEnVaLuE_x9"
		code     = "90817"
		password = "correct-horse-battery-staple"
	)
	e := startE2E(t, sandbox.Options{Users: 5, Password: password, LoginCode: code, Blocked: []int{2}})
	// The config written by the sandbox holds gotd's public test hash; the
	// secret one comes from the environment, as a careful user would do it.
	e.env = append(e.env, "BROADCAST_API_HASH="+apiHash, "BROADCAST_PASSWORD="+password)
	var all bytes.Buffer
	run := func(stdin string, args ...string) {
		// Some of these fail on purpose; only their output matters. The
		// command line itself holds the secrets on purpose; only what the
		// tool printed is searched.
		out, _ := e.runStdin(strings.NewReader(stdin), append([]string{"-vv"}, args...)...)
		fmt.Fprintf(&all, "$ broadcast %s\n%s", args[0], out)
	}
	run("", "login", "--bot-token", botToken)
	run("", "whoami")
	run("", "send", "--to", "@friend1,@friend2,@nobody_here", "hello")
	run("", "--json", "send", "--to", "@friend3", "json hello")
	run("", "resolve", "@friend4")
	run("", "history")
	run("", "lists")
	run("", "logout")
	run(code+"\n", "login", "--phone", "+15550000000")
	run("", "send", "--to", "@friend5", "as a user")
	run("wrong\n", "login", "--phone", "+15550000000")
	run("", "login", "--bot-token", "424242:wrong-token-but-still-secret")

	if !strings.Contains(all.String(), "logged in as") || len(e.srv.Inbox("friend5")) != 1 {
		t.Fatalf("the commands did not run as intended:\n%s", all.String())
	}
	secrets := map[string]*regexp.Regexp{
		"api hash":   regexp.MustCompile(apiHash),
		"bot token":  regexp.MustCompile(regexp.QuoteMeta("SeCrEtBoTtOkEnVaLuE")),
		"login code": regexp.MustCompile(`\b` + code + `\b`),
		"password":   regexp.MustCompile(password),
		"token 2":    regexp.MustCompile("wrong-token-but-still-secret"),
	}
	check := func(where, text string) {
		for name, re := range secrets {
			if loc := re.FindStringIndex(text); loc != nil {
				t.Errorf("%s appears in %s: …%s…", name, where, text[max(0, loc[0]-60):min(len(text), loc[1]+20)])
			}
		}
	}
	check("the output", all.String())
	_ = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(path) == "state.db" {
			return nil
		}
		b, _ := os.ReadFile(path)
		check(path, string(b))
		return nil
	})
}

// A damaged, truncated or foreign state database is reported with the file
// and what to do, exit 1, and is never changed.
func TestDamagedStateDatabase(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	db := filepath.Join(e.dir, "state", "state.db")
	good, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 8192)
	rand.Read(garbage)
	for name, content := range map[string][]byte{
		"garbage":   garbage,
		"truncated": good[:len(good)/3],
		"empty":     {},
		"foreign":   []byte("SQLite format 3\x00" + strings.Repeat("x", 4000)),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(db, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"whoami"}, {"send", "--to", "@friend1", "x"}, {"login", "--bot-token", sandbox.BotToken}} {
				out, code := e.run(args...)
				if code != 1 || !strings.Contains(out, db) || !strings.Contains(out, "hint: move") || strings.Contains(out, "panic") || strings.Contains(out, "goroutine") {
					t.Errorf("%s: exit %d:\n%s", args[0], code, out)
				}
				after, _ := os.ReadFile(db)
				if !bytes.Equal(after, content) {
					t.Fatalf("%s changed the damaged database", args[0])
				}
			}
		})
	}
	if n := len(e.srv.Inbox("friend1")); n != 0 {
		t.Fatalf("a damaged state database still sent %d messages", n)
	}
}

// A session blob that is not a session: exit 4, named, and kept.
func TestDamagedSession(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	st := e.openState(t)
	if err := st.StoreSession([]byte(`{"Version":1,"Data":{"AuthKey":"dHJ1bmNhdGVk"}}`)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, code := e.run("send", "--to", "@friend1", "x")
	if code != 4 || !strings.Contains(out, "the saved session is damaged") || !strings.Contains(out, "broadcast login") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	st = e.openState(t)
	b, _ := st.LoadSession()
	if !strings.Contains(string(b), "dHJ1bmNhdGVk") {
		t.Fatalf("the damaged session was overwritten: %s", b)
	}
}

// A state dir or database readable by others is refused with the chmod that
// fixes it, as ssh does with keys.
func TestLoosePermissionsRefused(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	dir := filepath.Join(e.dir, "state")
	db := filepath.Join(dir, "state.db")
	for _, c := range []struct {
		path string
		mode os.FileMode
		fix  string
	}{
		{db, 0o644, "chmod 600 " + db},
		{dir, 0o755, "chmod 700 " + dir},
	} {
		if err := os.Chmod(c.path, c.mode); err != nil {
			t.Fatal(err)
		}
		out, code := e.run("send", "--to", "@friend1", "x")
		if code != 1 || !strings.Contains(out, "hint: run: "+c.fix) {
			t.Errorf("%s at %o: exit %d:\n%s", c.path, c.mode, code, out)
		}
		if err := os.Chmod(c.path, map[bool]os.FileMode{true: 0o700, false: 0o600}[c.path == dir]); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.srv.Inbox("friend1")); n != 0 {
		t.Fatalf("sent %d messages despite loose permissions", n)
	}
	if out, code := e.run("send", "--to", "@friend1", "fixed"); code != 0 {
		t.Fatalf("after chmod: exit %d\n%s", code, out)
	}
}

// Servers that stall, hang up mid-handshake or answer garbage: bounded by
// --timeout, exit 1, one clear line.
func TestBadServers(t *testing.T) {
	behaviours := map[string]func(net.Conn){
		// Stalling is reading without answering until the test ends and
		// the server closes the connection.
		"stalls":   func(c net.Conn) { io.Copy(io.Discard, c) },
		"hangs up": func(c net.Conn) { buf := make([]byte, 64); c.Read(buf); c.Close() },
		"garbage": func(c net.Conn) {
			junk := make([]byte, 4096)
			rand.Read(junk)
			c.Write(junk)
			io.Copy(io.Discard, c)
		},
	}
	for name, serve := range behaviours {
		t.Run(name, func(t *testing.T) {
			l, err := sandbox.StartRaw(serve)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			// A sandbox lends its key and state dir, then goes: the server
			// is l, named on the command line, with no config.
			e := startE2E(t, sandbox.Options{Users: 1})
			e.srv.Close()
			e.env = append(e.env, "BROADCAST_CONFIG=")
			c := e.cmd("--timeout", "2s", "--server", l.Addr(), "--server-key", filepath.Join(e.dir, "server.pem"),
				"--api-id", fmt.Sprint(sandbox.AppID), "--api-hash", sandbox.AppHash, "login", "--bot-token", sandbox.BotToken)
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			start := time.Now()
			err = c.Run()
			took := time.Since(start)
			x, ok := err.(*exec.ExitError)
			if !ok || x.ExitCode() != 1 {
				t.Fatalf("exit: %v\nstderr:\n%s", err, stderr.String())
			}
			// A hard bound: the timeout plus a second (the limit),
			// and room for starting the binary while CI runs every package at once.
			if took > 4500*time.Millisecond {
				t.Errorf("took %s with --timeout 2s", took)
			}
			t.Logf("exit 1 after %s with --timeout 2s", took.Round(time.Millisecond))
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			errLines := 0
			for _, line := range lines {
				if strings.HasPrefix(line, "broadcast: error: ") {
					errLines++
				}
			}
			if errLines != 1 || !strings.Contains(stderr.String(), "could not connect to "+l.Addr()+" within 2s") || stdout.Len() != 0 {
				t.Errorf("want one clear error line:\n%s", stderr.String())
			}
		})
	}
}
