package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// e2e drives the built binary in dir, with HOME and every BROADCAST_* file
// there: against srv, an in-process sandbox whose config is in dir (nil
// where the sandbox is a `broadcast sandbox` command), and logged in when
// newE2E made it.
type e2e struct {
	t   *testing.T
	srv *sandbox.Server
	dir string
	env []string
}

func newE2E(t *testing.T, opts sandbox.Options) *e2e {
	t.Helper()
	e := startE2E(t, opts)
	if out, code := e.run("login", "--bot-token", sandbox.BotToken); code != 0 {
		t.Fatalf("login: exit %d: %s", code, out)
	}
	return e
}

// startE2E is newE2E without the login, for tests that log in their own way.
func startE2E(t *testing.T, opts sandbox.Options) *e2e {
	t.Helper()
	dir := t.TempDir()
	srv, env := startSandbox(t, opts, dir)
	return &e2e{t: t, srv: srv, dir: dir, env: homeEnv(dir, env)}
}

// homeEnv is the tester's environment with HOME at dir and env on top.
func homeEnv(dir string, env []string) []string {
	return append(append(os.Environ(), "HOME="+dir), env...)
}

func (e *e2e) cmd(args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(binDir, "broadcast"), args...)
	c.Env = e.env
	c.Dir = e.dir
	return c
}

// run runs broadcast to the end and returns stdout+stderr and the exit code.
func (e *e2e) run(args ...string) (string, int) {
	e.t.Helper()
	return e.runStdin(nil, args...)
}

// runStdin is run with stdin read from r (nil: from /dev/null).
func (e *e2e) runStdin(r io.Reader, args ...string) (string, int) {
	e.t.Helper()
	var out bytes.Buffer
	c := e.cmd(args...)
	c.Stdin = r
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err != nil {
		if x, ok := err.(*exec.ExitError); ok {
			return out.String(), x.ExitCode()
		}
		e.t.Fatal(err)
	}
	return out.String(), 0
}

// friends names friend1 … friendN for --to.
func friends(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("@friend%d", i+1)
	}
	return strings.Join(names, ",")
}

type jsonLine struct {
	Recipient string `json:"recipient"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	MessageID int    `json:"message_id"`
	Summary   *struct {
		BroadcastID string `json:"broadcast_id"`
		Total       int    `json:"total"`
		Sent        int    `json:"sent"`
		Failed      int    `json:"failed"`
		Skipped     int    `json:"skipped"`
	} `json:"summary"`
}

func parseLines(t *testing.T, out string) (results []jsonLine, summary *jsonLine) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue // stderr lines mixed in by run
		}
		var j jsonLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		if j.Summary != nil {
			summary = &j
			continue
		}
		results = append(results, j)
	}
	return results, summary
}

// sendJSON runs `broadcast send --json --rate 0 ARGS…`, fails the test
// unless it exits with want, and returns its output and report.
func (e *e2e) sendJSON(want int, args ...string) (out string, results []jsonLine, summary *jsonLine) {
	e.t.Helper()
	out, code := e.run(append([]string{"send", "--json", "--rate", "0"}, args...)...)
	if code != want {
		e.t.Fatalf("exit %d, want %d:\n%s", code, want, tail(out))
	}
	results, summary = parseLines(e.t, out)
	return out, results, summary
}

// exactlyOnce checks every friend 1…n holds exactly one copy of text.
func (e *e2e) exactlyOnce(n int, text string) {
	e.t.Helper()
	bad := 0
	for i := 1; i <= n; i++ {
		in := e.srv.Inbox(fmt.Sprintf("friend%d", i))
		if len(in) != 1 || in[0].Text != text {
			bad++
			if bad < 5 {
				e.t.Errorf("friend%d has %d messages, want exactly one %q", i, len(in), text)
			}
		}
	}
	if bad > 0 {
		e.t.Fatalf("%d of %d inboxes are wrong", bad, n)
	}
}

// Lost answers after an acknowledgement: gotd gives up on them, so only the
// tool's own retry with the same random_id delivers, and it must deliver once.
func TestExactlyOnceWithDroppedAcks(t *testing.T) {
	const n = 200
	e := newE2E(t, sandbox.Options{Users: n, DropAnswer: 0.2, AckBeforeDrop: true, Seed: 42})
	_, _, sum := e.sendJSON(0, "--concurrency", "16", "--to", friends(n), "dropped acks")
	if e.srv.DroppedAnswers() == 0 {
		t.Fatal("the sandbox dropped no answer; the test proves nothing")
	}
	if sum == nil || sum.Summary.Sent != n {
		t.Fatalf("summary %+v", sum)
	}
	e.exactlyOnce(n, "dropped acks")
	t.Logf("%d answers dropped", e.srv.DroppedAnswers())
}

// SIGKILL at five moments of a 300-recipient broadcast, then the same
// command again: one copy each, and what was reported before the kill is
// reported skipped after it.
func TestKillAndRerun(t *testing.T) {
	const n = 300
	for _, killAfter := range []int{0, 1, 40, 150, 295} {
		t.Run(fmt.Sprintf("after_%d", killAfter), func(t *testing.T) {
			e := newE2E(t, sandbox.Options{Users: n, Latency: 2 * time.Millisecond})
			args := []string{"send", "--json", "--rate", "0", "--to", friends(n), "kill me"}
			c := e.cmd(args...)
			stdout, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			sentBefore := map[string]bool{}
			sc := bufio.NewScanner(stdout)
			for len(sentBefore) < killAfter && sc.Scan() {
				var j jsonLine
				if json.Unmarshal(sc.Bytes(), &j) == nil && j.Status == "sent" {
					sentBefore[j.Recipient] = true
				}
			}
			if killAfter == 0 {
				time.Sleep(300 * time.Millisecond) // connected, maybe sending
			}
			_ = c.Process.Signal(syscall.SIGKILL)
			_ = c.Wait()

			out, code := e.run(args...)
			if code != 0 {
				t.Fatalf("rerun exit %d:\n%s", code, tail(out))
			}
			results, sum := parseLines(t, out)
			skipped := map[string]bool{}
			for _, r := range results {
				if r.Status == "skipped" {
					skipped[r.Recipient] = true
				}
			}
			for r := range sentBefore {
				if !skipped[r] {
					t.Errorf("%s was reported sent before the kill but not skipped after it", r)
				}
			}
			if sum == nil || sum.Summary.Total != n || sum.Summary.Sent+sum.Summary.Skipped != n {
				t.Fatalf("rerun summary %+v", sum)
			}
			e.exactlyOnce(n, "kill me")
			t.Logf("killed after %d reported; rerun sent %d, skipped %d", len(sentBefore), sum.Summary.Sent, sum.Summary.Skipped)
		})
	}
}

// A server-enforced rate of 50/s: everything is delivered, nothing fails.
func TestServerRateLimit(t *testing.T) {
	const n = 300
	e := newE2E(t, sandbox.Options{Users: n, SendRate: 50})
	out, _, sum := e.sendJSON(0, "--concurrency", "16", "--to", friends(n), "rate limited")
	if sum == nil || sum.Summary.Sent != n || sum.Summary.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(out, "flood wait") {
		t.Errorf("flood waits (%d) were not announced on stderr", e.srv.FloodWaits())
	}
	// One wall is one line, however many sends in flight met it.
	seen := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "flood wait") {
			if seen[l] {
				t.Errorf("announced twice: %s", l)
			}
			seen[l] = true
		}
	}
	e.exactlyOnce(n, "rate limited")
}

// A second run on the same state dir is refused at once with exit 1 and
// sends nothing.
func TestSecondRunRefused(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n + 1, Latency: 50 * time.Millisecond})
	first := e.cmd("send", "--rate", "2", "--to", friends(n), "first")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	// Wait until the first run holds the lock.
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Delivered() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	out, code := e.run("send", "--to", "@friend41", "second")
	if code != 1 || !strings.Contains(out, "another broadcast is running (pid ") {
		t.Fatalf("second run: exit %d, output:\n%s", code, out)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("second run took %s to be refused", time.Since(start))
	}
	if n := len(e.srv.Inbox("friend41")); n != 0 {
		t.Fatalf("the refused run delivered %d messages", n)
	}
	_ = first.Process.Signal(syscall.SIGTERM)
	_ = first.Wait()
}

// The cron case: the second run of a broadcast resolves nothing again.
func TestCronRunUsesPeerCache(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 5})
	if out, code := e.run("good morning"); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	before := e.srv.Calls("contacts.resolveUsername")
	if before != 3 {
		t.Fatalf("first run resolved %d names, want 3", before)
	}
	if out, code := e.run("good evening"); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	if after := e.srv.Calls("contacts.resolveUsername"); after != before {
		t.Fatalf("second run made %d contacts.resolveUsername calls, want 0", after-before)
	}
	for i := 1; i <= 3; i++ {
		if got := len(e.srv.Inbox(fmt.Sprintf("friend%d", i))); got != 2 {
			t.Fatalf("friend%d has %d messages, want 2", i, got)
		}
	}
}

// SIGTERM, as cron and systemd send it, behaves like Ctrl-C: in-flight sends
// finish, the journal is kept, exit 130, and resume finishes the job.
func TestSigtermThenResume(t *testing.T) {
	const n = 60
	e := newE2E(t, sandbox.Options{Users: n, Latency: 20 * time.Millisecond})
	c := e.cmd("send", "--json", "--rate", "20", "--to", friends(n), "term")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Delivered() < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	err := c.Wait()
	x, ok := err.(*exec.ExitError)
	if !ok || x.ExitCode() != 130 {
		t.Fatalf("after SIGTERM: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "broadcast resume") {
		t.Errorf("no resume hint:\n%s", out.String())
	}
	// A send on the wire at the signal is finished or pending, never
	// "failed": it may well have been delivered.
	results, sum := parseLines(t, out.String())
	for _, r := range results {
		if r.Status == "failed" {
			t.Errorf("%s reported failed after SIGTERM: %+v", r.Recipient, r)
		}
	}
	if sum == nil {
		t.Fatalf("no summary after SIGTERM:\n%s", out.String())
	}
	// history ID lists every recipient, also those not reached yet.
	hist, code := e.run("history", sum.Summary.BroadcastID)
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, hist)
	}
	if lines := strings.Count(hist, "@friend"); lines != n {
		t.Errorf("history lists %d recipients, want %d:\n%s", lines, n, tail(hist))
	}
	if !strings.Contains(hist, "not sent @friend") {
		t.Errorf("history shows no recipient as not sent:\n%s", tail(hist))
	}
	res, code := e.run("resume", "--json", "--rate", "0")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, tail(res))
	}
	e.exactlyOnce(n, "term")
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// PEER_FLOOD (the account is spam-limited) stops the whole run at once: the
// rest are reported not sent, exit 3, and the reason is said.
func TestPeerFloodStopsTheRun(t *testing.T) {
	const n = 40
	e := newE2E(t, sandbox.Options{Users: n, PeerFloodAfter: 10})
	out, results, sum := e.sendJSON(3, "--concurrency", "4", "--to", friends(n), "spam?")
	notSent := 0
	for _, r := range results {
		if r.Error == "NOT_SENT" {
			notSent++
			// Never tried (not_sent) or tried with its answer lost
			// (pending): never "failed".
			if r.Status != "not_sent" && r.Status != "pending" {
				t.Errorf("%s: status %q for a recipient the stop left unsent", r.Recipient, r.Status)
			}
		}
	}
	if sum == nil || sum.Summary.Sent != 10 || notSent < n-10-4 {
		t.Fatalf("sent %+v, %d reported not sent:\n%s", sum, notSent, tail(out))
	}
	if !strings.Contains(out, "PEER_FLOOD") || !strings.Contains(out, "broadcast resume") {
		t.Errorf("the reason or the resume hint is missing:\n%s", tail(out))
	}
	if got := e.srv.Delivered(); got != 10 {
		t.Fatalf("%d delivered, want 10", got)
	}
	// Sends stopped at once: the server saw at most the in-flight ones refused.
	if refused := e.srv.Calls("messages.sendMessage") - 10; refused > 4 {
		t.Errorf("%d sends were tried after PEER_FLOOD; the run should stop at once", refused)
	}
}

// A flood wait longer than --max-flood-wait fails the waiting recipients
// with a clear error instead of stalling.
func TestMaxFloodWait(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 3, SendRate: 0.05}) // one send per 20 s
	start := time.Now()
	out, results, sum := e.sendJSON(3, "--max-flood-wait", "5s", "--to", friends(3), "slow")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %s: it waited instead of failing", took)
	}
	flood := 0
	for _, r := range results {
		if r.Error == "FLOOD_WAIT" {
			flood++
		}
	}
	if sum.Summary.Sent != 1 || flood != 2 || !strings.Contains(out, "exceeds --max-flood-wait 5s") {
		t.Fatalf("want 1 sent and 2 FLOOD_WAIT failures:\n%s", out)
	}
}

// When Telegram rejects a cached access hash (PEER_ID_INVALID), the peer is
// resolved again once and the send goes through.
func TestStaleAccessHashIsRefreshed(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	if out, code := e.run("send", "--to", "@friend1", "first"); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	st := e.openState(t)
	p, ok, err := st.LookupPeer("@friend1")
	if err != nil || !ok {
		t.Fatalf("peer not cached: %v", err)
	}
	p.AccessHash++ // what Telegram would call stale
	if err := st.SavePeer("@friend1", p); err != nil {
		t.Fatal(err)
	}
	st.Close()
	before := e.srv.Calls("contacts.resolveUsername")
	if out, code := e.run("send", "--to", "@friend1", "second"); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if got := e.srv.Calls("contacts.resolveUsername") - before; got != 1 {
		t.Errorf("resolved %d times after the stale hash, want 1", got)
	}
	if in := e.srv.Inbox("friend1"); len(in) != 2 || in[1].Text != "second" {
		t.Fatalf("inbox %+v", in)
	}
}
