package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// `broadcast sandbox` runs in the foreground, writes its key and a config,
// prints where they are, and stops cleanly on SIGTERM.
func TestSandboxCommandRunsAndStops(t *testing.T) {
	dir := t.TempDir()
	sb := startSandboxCmd(t, "--dir", dir, "--users", "3")
	if first := strings.SplitN(sb.banner, "\n", 2)[0]; !strings.Contains(first, "sandbox: MTProto server on 127.0.0.1:") || !strings.Contains(first, "3 friends") {
		t.Fatalf("first line: %q", first)
	}
	for _, f := range []string{"server.pem", "config.yaml", "inbox.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// The config it wrote works: log in and send through it.
	e := &e2e{t: t, dir: dir, env: homeEnv(dir, sandboxEnv(dir))}
	for _, args := range [][]string{{"login", "--bot-token", sandbox.BotToken}, {"hello from the config"}} {
		if out, code := e.run(args...); code != 0 {
			t.Fatalf("broadcast %s: exit %d\n%s", args[0], code, out)
		}
	}
	inbox, _ := os.ReadFile(filepath.Join(dir, "inbox.jsonl"))
	if n := strings.Count(string(inbox), `"text":"hello from the config"`); n != 3 {
		t.Errorf("inbox.jsonl holds %d deliveries, want 3 (the default list):\n%s", n, inbox)
	}
	sb.stop(t)
	if !strings.Contains(sb.stderr.String(), "sandbox: stopped; 3 messages delivered") {
		t.Errorf("stderr: %s", sb.stderr.String())
	}
}

// A busy port or an unusable directory: a clear error and a non-zero exit.
func TestSandboxCommandBadInput(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sandbox", "--addr", l.Addr().String(), "--dir", t.TempDir()}, "sandbox: listen on " + l.Addr().String()},
		{[]string{"sandbox", "--dir", filepath.Join(file, "sub")}, "sandbox dir: "},
		{[]string{"sandbox", "--users", "0"}, "--users must be at least 1"},
		{[]string{"sandbox", "--drop", "1.5"}, "--drop must be a probability between 0 and 1"},
		{[]string{"sandbox", "--blocked", "x"}, "--blocked"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "broadcast"), c.args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		x, ok := err.(*exec.ExitError)
		if !ok || x.ExitCode() == 0 || !strings.Contains(out.String(), "broadcast: error: "+c.want) {
			t.Errorf("broadcast %s: %v\n%s", strings.Join(c.args, " "), err, out.String())
		}
	}
}

// sandboxCmd is a running `broadcast sandbox`.
type sandboxCmd struct {
	cmd    *exec.Cmd
	banner string // stdout up to the line about Ctrl-C
	stderr *bytes.Buffer
}

func startSandboxCmd(t *testing.T, args ...string) *sandboxCmd {
	t.Helper()
	c := exec.Command(filepath.Join(binDir, "broadcast"), append([]string{"sandbox"}, args...)...)
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &sandboxCmd{cmd: c, stderr: &bytes.Buffer{}}
	c.Stderr = s.stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill() })
	r := bufio.NewReader(stdout)
	for !strings.HasPrefix(s.banner, "sandbox: ") || !strings.Contains(s.banner, "Ctrl-C stops the server.") {
		line, err := r.ReadString('\n')
		s.banner += line
		if err != nil {
			t.Fatalf("sandbox output: %v\n%s\nstderr: %s", err, s.banner, s.stderr.String())
		}
	}
	return s
}

// stop ends the sandbox with SIGTERM, as Ctrl-C would.
func (s *sandboxCmd) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop on SIGTERM")
	}
}

// `broadcast sandbox --dir D` run again on the same D comes back on the same
// address with the same key, and a login made against the first run still
// works: no SESSION_REVOKED, no AUTH_KEY_UNREGISTERED, no gotd warning.
func TestSandboxCommandRestartKeepsLogin(t *testing.T) {
	dir := t.TempDir()
	sb := startSandboxCmd(t, "--dir", dir, "--users", "3")
	first := strings.SplitN(sb.banner, "\n", 2)[0]
	if strings.Contains(sb.banner, "resumed") {
		t.Errorf("a fresh dir says it resumed:\n%s", sb.banner)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "server.pem"))

	e := &e2e{t: t, dir: dir, env: homeEnv(dir, sandboxEnv(dir))}
	broadcast := func(stdin string, args ...string) string {
		t.Helper()
		out, code := e.runStdin(strings.NewReader(stdin), args...)
		if code != 0 {
			t.Fatalf("broadcast %s: exit %d\n%s\nsandbox stderr: %s", strings.Join(args, " "), code, out, sb.stderr.String())
		}
		if strings.Contains(out, "level=WARN") {
			t.Errorf("broadcast %s leaked a warning:\n%s", strings.Join(args, " "), out)
		}
		return out
	}
	broadcast(sandbox.LoginCode+"\n", "login", "--phone", "+15550000000")
	broadcast("", "before the restart")
	who := broadcast("", "whoami")
	sb.stop(t)

	sb = startSandboxCmd(t, "--dir", dir, "--users", "3")
	if again := strings.SplitN(sb.banner, "\n", 2)[0]; again != first {
		t.Errorf("after the restart:\n  %s\nbefore:\n  %s", again, first)
	}
	if !strings.Contains(sb.banner, "resumed: ") {
		t.Errorf("the restart does not say it resumed:\n%s", sb.banner)
	}
	if pub2, _ := os.ReadFile(filepath.Join(dir, "server.pem")); !bytes.Equal(pub, pub2) {
		t.Error("the server key changed across the restart")
	}
	if out := broadcast("", "whoami"); out != who {
		t.Errorf("whoami after the restart: %s\nbefore: %s", out, who)
	}
	broadcast("", "after the restart")
	sb.stop(t)
	if !strings.Contains(sb.stderr.String(), "sandbox: stopped; 3 messages delivered") {
		t.Errorf("second run's stderr: %s", sb.stderr.String())
	}
	inbox, _ := os.ReadFile(filepath.Join(dir, "inbox.jsonl"))
	for _, text := range []string{"before the restart", "after the restart"} {
		if n := strings.Count(string(inbox), `"text":"`+text+`"`); n != 3 {
			t.Errorf("inbox.jsonl holds %d deliveries of %q, want 3:\n%s", n, text, inbox)
		}
	}
	for _, f := range []string{"server.key", "sandbox.json", "inbox.jsonl"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", f, st, err)
		}
	}
}
