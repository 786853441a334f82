package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// exitOf waits for c and returns its exit code and how long the wait took.
func exitOf(t *testing.T, c *exec.Cmd) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	err := c.Wait()
	if err == nil {
		return 0, time.Since(start)
	}
	if x, ok := err.(*exec.ExitError); ok {
		return x.ExitCode(), time.Since(start)
	}
	t.Fatal(err)
	return -1, 0
}

// noRunningBroadcast: whatever a signal interrupted, the journal does not
// claim a run is still going.
func (e *e2e) noRunningBroadcast(t *testing.T) {
	t.Helper()
	st := e.openState(t)
	defer st.Close()
	bs, err := st.Broadcasts()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.State == store.StateRunning {
			t.Errorf("broadcast %s is left %q", b.ID, b.State)
		}
	}
}

// Every signal exits 130, whenever it comes: before the connection is up,
// while the message is read from a stdin nobody writes, while a --to-file
// FIFO waits for a writer. SIGQUIT too (Go's default would be exit 2 and a
// goroutine dump).
func TestSignalsAlwaysExit130(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 3, Latency: 300 * time.Millisecond})
	fifo := filepath.Join(e.dir, "recipients.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sig  syscall.Signal
		args []string
		wait time.Duration
	}{
		{"stdin open", syscall.SIGTERM, []string{"send", "--to", "@friend1", "-"}, 300 * time.Millisecond},
		{"fifo to-file", syscall.SIGINT, []string{"send", "--to-file", fifo, "hi"}, 300 * time.Millisecond},
		{"connecting", syscall.SIGTERM, []string{"send", "--to", "@friend1", "hi"}, 150 * time.Millisecond},
		{"sighup", syscall.SIGHUP, []string{"send", "--to", "@friend1", "-"}, 300 * time.Millisecond},
		{"sigquit", syscall.SIGQUIT, []string{"send", "--to", "@friend1", "-"}, 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.cmd(tc.args...)
			stdin, err := c.StdinPipe() // held open, never written
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.wait)
			_ = c.Process.Signal(tc.sig)
			code, took := exitOf(t, c)
			if code != 130 {
				t.Fatalf("exit %d after %s, want 130:\n%s", code, tc.sig, out.String())
			}
			if took > 3*time.Second {
				t.Errorf("took %s to exit after %s", took, tc.sig)
			}
			if strings.Contains(out.String(), "goroutine ") || strings.Contains(out.String(), "0 recipients") {
				t.Errorf("output:\n%s", out.String())
			}
			e.noRunningBroadcast(t)
		})
	}
}

// `broadcast send … | head -c1`: the reader goes away, the broadcast does
// not. Everyone gets the message, stderr says the report was lost, exit 1.
// The same for a report written to a full disk.
func TestClosedStdoutFinishesTheBroadcast(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n, Latency: 5 * time.Millisecond})
	script := fmt.Sprintf(`{ %q send --rate 0 --concurrency 4 --to %s "pipe closed" 2>err.txt; echo $? >code.txt; } | head -c1 >/dev/null`,
		filepath.Join(binDir, "broadcast"), friends(n))
	c := exec.Command("sh", "-c", script)
	c.Env, c.Dir = e.env, e.dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	code, _ := os.ReadFile(filepath.Join(e.dir, "code.txt"))
	stderr, _ := os.ReadFile(filepath.Join(e.dir, "err.txt"))
	if strings.TrimSpace(string(code)) != "1" || !strings.Contains(string(stderr), "could not write the report") {
		t.Fatalf("exit %s, stderr:\n%s", code, stderr)
	}
	e.exactlyOnce(n, "pipe closed")

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	defer full.Close()
	c = e.cmd("send", "--to", "@friend1", "disk full")
	var errOut bytes.Buffer
	c.Stdout, c.Stderr = full, &errOut
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if code, _ := exitOf(t, c); code != 1 || !strings.Contains(errOut.String(), "no space left") {
		t.Fatalf("to /dev/full: exit %d:\n%s", code, errOut.String())
	}
	if got := len(e.srv.Inbox("friend1")); got != 2 {
		t.Fatalf("friend1 has %d messages, want 2", got)
	}
}

// The same command started several times at once (two cron entries, a
// double Enter) never sends beside itself: everyone gets one copy.
func TestConcurrentIdenticalStarts(t *testing.T) {
	const n, starts = 30, 5
	e := newE2E(t, sandbox.Options{Users: n, Latency: 5 * time.Millisecond})
	outs, codes := e.runAtOnce(starts, "send", "--rate", "0", "--to", friends(n), "once only")
	for i, code := range codes {
		if code != 0 && !(code == 1 && strings.Contains(outs[i], "another broadcast is running")) {
			t.Errorf("start %d: exit %d:\n%s", i, code, tail(outs[i]))
		}
	}
	e.exactlyOnce(n, "once only")

	// With --wait each later start waits, then finds everyone delivered.
	outs, codes = e.runAtOnce(starts, "send", "--wait", "--rate", "0", "--to", friends(n), "waited")
	for i, code := range codes {
		if code != 0 {
			t.Errorf("--wait start %d: exit %d:\n%s", i, code, tail(outs[i]))
		}
	}
	e.oneCopyAmongOthers(n, "waited")
}

// runAtOnce starts broadcast with args k times at once and returns each
// run's output and exit code.
func (e *e2e) runAtOnce(k int, args ...string) (outs []string, codes []int) {
	outs, codes = make([]string, k), make([]int, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = e.run(args...)
		}()
	}
	wg.Wait()
	return outs, codes
}

// oneCopyAmongOthers checks every friend 1…n holds exactly one copy of
// text, whatever else they hold.
func (e *e2e) oneCopyAmongOthers(n int, text string) {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		count := 0
		for _, m := range e.srv.Inbox(fmt.Sprintf("friend%d", i)) {
			if m.Text == text {
				count++
			}
		}
		if count != 1 {
			e.t.Fatalf("friend%d has %d copies of %q", i, count, text)
		}
	}
}

// A re-run of a delivered broadcast is instant even at a user account's
// careful 5/s: skips take no rate token and make no call.
func TestRerunOfDeliveredTakesNoTokens(t *testing.T) {
	const n = 60
	e := newE2E(t, sandbox.Options{Users: n})
	if out, code := e.run("send", "--rate", "0", "--to", friends(n), "fast skip"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, tail(out))
	}
	before := e.srv.Calls("messages.sendMessage")
	start := time.Now()
	out, code := e.run("send", "--rate", "1", "--to", friends(n), "fast skip")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d recipients: 0 sent, 0 failed, %d skipped", n, n)) {
		t.Fatalf("exit %d:\n%s", code, tail(out))
	}
	// At 1/s, 60 tokens would take a minute.
	took := time.Since(start)
	if took > 20*time.Second {
		t.Errorf("the re-run took %s", took)
	}
	t.Logf("re-run of %d delivered recipients at --rate 1: %s", n, took.Round(time.Millisecond))
	if calls := e.srv.Calls("messages.sendMessage") - before; calls != 0 {
		t.Errorf("the re-run made %d sendMessage calls", calls)
	}
	e.exactlyOnce(n, "fast skip")
}

// A second signal ends the process at once, even while the first one gives
// a send on the wire its grace (here every answer is lost, so it never
// completes by itself).
func TestSecondSignalExitsAtOnce(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 3, DropAnswer: 1, Seed: 7})
	c := e.cmd("send", "--to", "@friend1", "never answered")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.DroppedAnswers() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGINT)
	time.Sleep(500 * time.Millisecond)
	_ = c.Process.Signal(syscall.SIGINT)
	code, took := exitOf(t, c)
	if code != 130 || took > 2*time.Second {
		t.Fatalf("exit %d %s after the second signal:\n%s", code, took, out.String())
	}
	if !strings.Contains(out.String(), "second signal") {
		t.Errorf("no word about the second signal:\n%s", out.String())
	}
}
