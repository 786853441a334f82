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
)

// `broadcast sandbox` runs in the foreground, writes its key and a config,
// prints where they are, and stops cleanly on SIGTERM.
func TestSandboxCommandRunsAndStops(t *testing.T) {
	dir := t.TempDir()
	c := exec.Command(filepath.Join(binDir, "broadcast"), "sandbox", "--dir", dir, "--users", "3")
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Process.Kill()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no output: %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(first, "sandbox: MTProto server on 127.0.0.1:") || !strings.Contains(first, "3 friends") {
		t.Fatalf("first line: %q", first)
	}
	for _, f := range []string{"server.pem", "config.yaml", "inbox.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// The config it wrote works: log in and send through it.
	env := append(os.Environ(), "HOME="+dir, "BROADCAST_CONFIG="+filepath.Join(dir, "config.yaml"), "BROADCAST_STATE_DIR="+filepath.Join(dir, "state"))
	for _, args := range [][]string{{"login", "--bot-token", sandboxBotToken}, {"hello from the config"}} {
		cmd := exec.Command(filepath.Join(binDir, "broadcast"), args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("broadcast %s: %v\n%s", args[0], err, out)
		}
	}
	inbox, _ := os.ReadFile(filepath.Join(dir, "inbox.jsonl"))
	if n := strings.Count(string(inbox), `"text":"hello from the config"`); n != 3 {
		t.Errorf("inbox.jsonl holds %d deliveries, want 3 (the default list):\n%s", n, inbox)
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), "sandbox: stopped; 3 messages delivered") {
		t.Errorf("stderr: %s", stderr.String())
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
