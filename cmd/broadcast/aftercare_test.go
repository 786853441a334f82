package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// holds counts friends 1…n whose inbox holds a message with text.
func holds(e *e2e, n int, text string) int {
	c := 0
	for i := 1; i <= n; i++ {
		for _, m := range e.srv.Inbox(fmt.Sprintf("friend%d", i)) {
			if m.Text == text {
				c++
				break
			}
		}
	}
	return c
}

// broadcastID is the id in a --json run's summary.
func broadcastID(t *testing.T, out string) string {
	t.Helper()
	_, sum := parseLines(t, out)
	if sum == nil || sum.Summary.BroadcastID == "" {
		t.Fatalf("no summary with a broadcast id:\n%s", tail(out))
	}
	return sum.Summary.BroadcastID
}

// statuses counts a --json report's lines by status.
func statuses(t *testing.T, out string) map[string]int {
	t.Helper()
	results, _ := parseLines(t, out)
	m := map[string]int{}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}

// Send to 50, retract: every inbox is empty of it, in one call; retract
// again: nothing to do and no call.
func TestRetract(t *testing.T) {
	const n = 50
	e := newE2E(t, sandbox.Options{Users: n})
	sent, _, _ := e.sendJSON(0, "--to", friends(n), "I bought a car!")
	if got := holds(e, n, "I bought a car!"); got != n {
		t.Fatalf("%d of %d inboxes got it", got, n)
	}
	out, code := e.run("retract", "--yes", "--json")
	if code != 0 {
		t.Fatalf("retract: exit %d\n%s", code, tail(out))
	}
	if got := holds(e, n, "I bought a car!"); got != 0 {
		t.Errorf("%d inboxes still hold the message", got)
	}
	if s := statuses(t, out); s["retracted"] != n {
		t.Errorf("report %v, want %d retracted", s, n)
	}
	if calls := e.srv.Calls("messages.deleteMessages"); calls != 1 {
		t.Errorf("%d deleteMessages calls for %d recipients, want 1", calls, n)
	}
	out, code = e.run("retract", "--yes", "--json")
	if code != 0 {
		t.Fatalf("second retract: exit %d\n%s", code, tail(out))
	}
	if s := statuses(t, out); s["skipped"] != n {
		t.Errorf("second retract reported %v, want %d skipped", s, n)
	}
	if calls := e.srv.Calls("messages.deleteMessages"); calls != 1 {
		t.Errorf("the second retract made %d more calls", calls-1)
	}
	// The broadcast is not resumed or re-entered by the same command.
	out, code = e.run("send", "--rate", "0", "--to", friends(n), "I bought a car!")
	if code != 2 || !strings.Contains(out, "retracted") || !strings.Contains(out, "--new") {
		t.Errorf("the same send after a retract: exit %d\n%s", code, tail(out))
	}
	if got := holds(e, n, "I bought a car!"); got != 0 {
		t.Errorf("the refused send delivered to %d", got)
	}
	out, code = e.run("resume", "--rate", "0", broadcastID(t, sent))
	if code != 2 || !strings.Contains(out, "cannot be resumed") {
		t.Errorf("resume after a retract: exit %d\n%s", code, tail(out))
	}
	hist, _ := e.run("history")
	if !strings.Contains(hist, "retracted") {
		t.Errorf("history does not show the broadcast retracted:\n%s", hist)
	}
}

// --to retracts from those only; without --yes off a terminal nothing is done.
func TestRetractSomeAndAskFirst(t *testing.T) {
	const n = 6
	e := newE2E(t, sandbox.Options{Users: n})
	e.sendJSON(0, "--to", friends(n), "oops")
	out, code := e.run("retract")
	if code != 2 || !strings.Contains(out, "--yes") {
		t.Fatalf("retract without --yes off a terminal: exit %d\n%s", code, out)
	}
	if got := holds(e, n, "oops"); got != n || e.srv.Calls("messages.deleteMessages") != 0 {
		t.Fatalf("without --yes: %d of %d still hold it, %d calls", got, n, e.srv.Calls("messages.deleteMessages"))
	}
	out, code = e.run("retract", "--dry-run")
	if code != 0 || !strings.Contains(out, "would retract") || e.srv.Calls("messages.deleteMessages") != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	out, code = e.run("retract", "--yes", "--to", "@friend2", "--to", "friend5")
	if code != 0 {
		t.Fatalf("retract --to: exit %d\n%s", code, out)
	}
	for i := 1; i <= n; i++ {
		want := 1
		if i == 2 || i == 5 {
			want = 0
		}
		if got := len(e.srv.Inbox(fmt.Sprintf("friend%d", i))); got != want {
			t.Errorf("friend%d holds %d messages, want %d", i, got, want)
		}
	}
	out, code = e.run("retract", "--yes", "--to", "@stranger")
	if code != 2 || !strings.Contains(out, "not a recipient") {
		t.Errorf("retract from a non-recipient: exit %d\n%s", code, out)
	}
}

// Past Telegram's revoke limit for half: those fail with their age, the
// rest are deleted, exit 3.
func TestRetractPastTheLimit(t *testing.T) {
	const n, half = 20, 10
	e := newE2E(t, sandbox.Options{Users: n, RevokeLimit: 3 * time.Second})
	signalAfterSent(t, e, syscall.SIGINT, half, "send", "--json", "--rate", "10", "--to", friends(n), "old and new")
	time.Sleep(3500 * time.Millisecond)
	if out, code := e.run("resume", "--rate", "0"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, tail(out))
	}
	old := n - holdsNewest(e, n)
	out, code := e.run("retract", "--yes", "--json")
	if code != 3 {
		t.Fatalf("retract: exit %d, want 3\n%s", code, tail(out))
	}
	s := statuses(t, out)
	if s["failed"] != old || s["retracted"] != n-old {
		t.Errorf("report %v, want %d failed and %d retracted", s, old, n-old)
	}
	if !strings.Contains(out, "MESSAGE_DELETE_FORBIDDEN") || !strings.Contains(out, "bots may retract for 3 s") {
		t.Errorf("the failures do not say why:\n%s", tail(out))
	}
	if got := holds(e, n, "old and new"); got != old {
		t.Errorf("%d inboxes hold the message, want the %d too old to retract", got, old)
	}
}

// holdsNewest counts friends whose message arrived in the last 3 s.
func holdsNewest(e *e2e, n int) int {
	c := 0
	for i := 1; i <= n; i++ {
		for _, m := range e.srv.Inbox(fmt.Sprintf("friend%d", i)) {
			if time.Since(m.Date) < 3*time.Second {
				c++
			}
		}
	}
	return c
}

// Edit 50: every inbox shows the new text with its entities; the same edit
// again is done without a call; an unchanged text counts as done.
func TestEdit(t *testing.T) {
	const n = 50
	e := newE2E(t, sandbox.Options{Users: n})
	e.sendJSON(0, "--to", friends(n), "I bought a car!")
	out, code := e.run("edit", "--json", "--rate", "0", "--parse-mode", "html", "I bought a <b>boat</b>!")
	if code != 0 {
		t.Fatalf("edit: exit %d\n%s", code, tail(out))
	}
	if s := statuses(t, out); s["edited"] != n {
		t.Errorf("report %v, want %d edited", s, n)
	}
	for i := 1; i <= n; i++ {
		in := e.srv.Inbox(fmt.Sprintf("friend%d", i))
		if len(in) != 1 || in[0].Text != "I bought a boat!" || len(in[0].Entities) != 1 || in[0].Entities[0].Type != "bold" ||
			in[0].Entities[0].Offset != 11 || in[0].Entities[0].Length != 4 {
			t.Fatalf("friend%d holds %+v", i, in)
		}
	}
	calls := e.srv.Calls("messages.editMessage")
	out, code = e.run("edit", "--json", "--rate", "0", "--parse-mode", "html", "I bought a <b>boat</b>!")
	if code != 0 || statuses(t, out)["skipped"] != n || e.srv.Calls("messages.editMessage") != calls {
		t.Errorf("the same edit again: exit %d, %d more calls\n%s", code, e.srv.Calls("messages.editMessage")-calls, tail(out))
	}
	// Back to the first text: every message changes again.
	out, code = e.run("edit", "--json", "--rate", "0", "I bought a car!")
	if code != 0 || statuses(t, out)["edited"] != n || holds(e, n, "I bought a car!") != n {
		t.Errorf("edit back: exit %d\n%s", code, tail(out))
	}
	hist, _ := e.run("history", "--json", broadcastID(t, out))
	if !strings.Contains(hist, `"state":"edited"`) {
		t.Errorf("history does not show the edit:\n%s", tail(hist))
	}
}

// An edit that changes nothing (MESSAGE_NOT_MODIFIED) is done.
func TestEditNotModified(t *testing.T) {
	const n = 5
	e := newE2E(t, sandbox.Options{Users: n})
	e.sendJSON(0, "--to", friends(n), "same")
	out, code := e.run("edit", "--json", "--rate", "0", "same")
	if code != 0 || statuses(t, out)["edited"] != n {
		t.Fatalf("edit to the same text: exit %d\n%s", code, tail(out))
	}
	if e.srv.Calls("messages.editMessage") != n {
		t.Errorf("%d editMessage calls, want %d", e.srv.Calls("messages.editMessage"), n)
	}
}

// Past the edit limit: every recipient fails with the message's age, and
// the journal's send time makes it certain without a call.
func TestEditPastTheLimit(t *testing.T) {
	const n = 4
	e := newE2E(t, sandbox.Options{Users: n, EditLimit: time.Second})
	e.sendJSON(0, "--to", friends(n), "too late")
	time.Sleep(1500 * time.Millisecond)
	out, code := e.run("edit", "--json", "--rate", "0", "fixed")
	if code != 3 || statuses(t, out)["failed"] != n || !strings.Contains(out, "MESSAGE_EDIT_TIME_EXPIRED") {
		t.Fatalf("edit past the limit: exit %d\n%s", code, tail(out))
	}
	if calls := e.srv.Calls("messages.editMessage"); calls != 0 {
		t.Errorf("%d editMessage calls for messages known to be too old", calls)
	}
	if holds(e, n, "too late") != n {
		t.Errorf("a message changed")
	}
}

// A split broadcast is edited part for part, and only to a text of as many
// parts; a retracted one is not edited.
func TestEditSplitAndRetracted(t *testing.T) {
	const n = 3
	e := newE2E(t, sandbox.Options{Users: n})
	long := strings.Repeat("word ", 1000) // 5000 characters: two parts
	e.sendJSON(0, "--split", "--to", friends(n), long)
	out, code := e.run("edit", "--rate", "0", "short now")
	if code != 2 || !strings.Contains(out, "2 messages") {
		t.Fatalf("edit of a 2-part broadcast to 1 part: exit %d\n%s", code, out)
	}
	newLong := strings.Repeat("talk ", 1000)
	out, code = e.run("edit", "--json", "--rate", "0", newLong)
	if code != 0 {
		t.Fatalf("edit part for part: exit %d\n%s", code, tail(out))
	}
	for i := 1; i <= n; i++ {
		in := e.srv.Inbox(fmt.Sprintf("friend%d", i))
		if len(in) != 2 || !strings.HasPrefix(in[0].Text, "talk") || !strings.HasPrefix(in[1].Text, "talk") {
			t.Fatalf("friend%d holds %d messages after the edit", i, len(in))
		}
	}
	if out, code := e.run("retract", "--yes"); code != 0 {
		t.Fatalf("retract: exit %d\n%s", code, out)
	}
	for i := 1; i <= n; i++ {
		if in := e.srv.Inbox(fmt.Sprintf("friend%d", i)); len(in) != 0 {
			t.Errorf("friend%d still holds %d parts", i, len(in))
		}
	}
	out, code = e.run("edit", "--rate", "0", newLong)
	if code != 2 || !strings.Contains(out, "retracted") {
		t.Errorf("edit of a retracted broadcast: exit %d\n%s", code, out)
	}
}

// SIGKILL in the middle of a retract and of an edit, then the same command
// again: every message deleted, every message edited, no needless call.
func TestKillDuringRetractAndEdit(t *testing.T) {
	const n = 400
	for _, at := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("retract_after_%d_calls", at), func(t *testing.T) {
			e := newE2E(t, sandbox.Options{Users: n, Latency: 30 * time.Millisecond})
			e.sendJSON(0, "--concurrency", "64", "--to", friends(n), "take it back")
			killAt(t, e, func() bool { return e.srv.Calls("messages.deleteMessages") >= at }, "retract", "--yes", "--concurrency", "1")
			out, code := e.run("retract", "--yes", "--json")
			if code != 0 {
				t.Fatalf("retract again: exit %d\n%s", code, tail(out))
			}
			if got := holds(e, n, "take it back"); got != 0 {
				t.Errorf("%d messages left after the re-run", got)
			}
			if calls := e.srv.Calls("messages.deleteMessages"); calls > 4+1 {
				t.Errorf("%d deleteMessages calls for 400 recipients in two runs, want at most 5", calls)
			}
		})
	}
	for _, at := range []int{0, 20, 250} {
		t.Run(fmt.Sprintf("edit_after_%d", at), func(t *testing.T) {
			e := newE2E(t, sandbox.Options{Users: n, Latency: 10 * time.Millisecond})
			e.sendJSON(0, "--concurrency", "64", "--to", friends(n), "draft")
			killAt(t, e, func() bool { return e.srv.Calls("messages.editMessage") >= at }, "edit", "--rate", "0", "--concurrency", "8", "final")
			journaled := editedInJournal(t, e)
			before := e.srv.Calls("messages.editMessage")
			out, code := e.run("edit", "--json", "--rate", "0", "final")
			if code != 0 {
				t.Fatalf("edit again: exit %d\n%s", code, tail(out))
			}
			if got := holds(e, n, "final"); got != n {
				t.Errorf("%d of %d messages edited after the re-run", got, n)
			}
			// The re-run edits exactly the recipients the journal does not
			// have as edited, once each: no call for one already done.
			s := statuses(t, out)
			again := e.srv.Calls("messages.editMessage") - before
			if again != n-journaled || s["edited"] != n-journaled || s["skipped"] != journaled {
				t.Errorf("after %d journaled edits (%d calls before the kill) the re-run made %d calls: %v", journaled, before, again, s)
			}
		})
	}
}

// editedInJournal counts the recipients the journal has as edited.
func editedInJournal(t *testing.T, e *e2e) int {
	t.Helper()
	st := e.openState(t)
	defer st.Close()
	bs, err := st.Broadcasts()
	if err != nil || len(bs) == 0 {
		t.Fatalf("journal: %v", err)
	}
	es, err := st.Entries(bs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range es {
		if en.Edit != "" {
			n++
		}
	}
	return n
}

// signalAfterSent runs broadcast with args (a --json send) and sends it sig
// once it has reported n recipients sent, then waits for it to end.
func signalAfterSent(t *testing.T, e *e2e, sig syscall.Signal, n int, args ...string) {
	t.Helper()
	c := e.cmd(args...)
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sent := 0; sent < n && sc.Scan(); {
		if strings.Contains(sc.Text(), `"status":"sent"`) {
			sent++
		}
	}
	_ = c.Process.Signal(sig)
	_ = c.Wait()
}

// killAt starts broadcast with args and SIGKILLs it once ready() holds.
func killAt(t *testing.T, e *e2e, ready func() bool, args ...string) {
	t.Helper()
	c := e.cmd(args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !ready() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	err := c.Wait()
	if _, ok := err.(*exec.ExitError); !ok {
		t.Logf("finished before the kill: %v\n%s", err, tail(out.String()))
	}
	// Requests the killed process had written may still be in the
	// server's socket: let it read them before anything is counted.
	for last, stable := -1, 0; stable < 5; time.Sleep(20 * time.Millisecond) {
		n := e.srv.Calls("messages.editMessage") + e.srv.Calls("messages.deleteMessages")
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}
}

// Read state for a user: unread at first, read once the friends read it
// (after 200 ms), never by the one who never reads; a bot is told it cannot
// know.
func TestHistoryReadState(t *testing.T) {
	const n = 4
	e := startE2E(t, sandbox.Options{Users: n, ReadAfter: 300 * time.Millisecond, NeverRead: []int{3}})
	if out, code := e.runStdin(strings.NewReader(sandbox.LoginCode+"\n"), "login", "--phone", "+15550000000"); code != 0 {
		t.Fatalf("login: exit %d\n%s", code, out)
	}
	out, _, _ := e.sendJSON(0, "--to", friends(n), "read me")
	id := broadcastID(t, out)
	hist, code := e.run("history", "--json", id)
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, hist)
	}
	if strings.Count(hist, `"read":false`) != n || !strings.Contains(hist, `"unread":4`) {
		t.Errorf("right after sending, history shows:\n%s", hist)
	}
	time.Sleep(400 * time.Millisecond)
	hist, _ = e.run("history", id)
	if strings.Count(hist, "read     @friend") != n-1 || !strings.Contains(hist, "sent     @friend3") || !strings.Contains(hist, "3 read, 1 unread") {
		t.Errorf("after the friends read it, history shows:\n%s", hist)
	}
	if calls := e.srv.Calls("messages.getPeerDialogs"); calls != 2 {
		t.Errorf("%d getPeerDialogs calls for two histories of %d recipients, want 2", calls, n)
	}
	// --offline asks nothing.
	if hist, _ = e.run("history", "--offline", id); e.srv.Calls("messages.getPeerDialogs") != 2 || strings.Contains(hist, "read     @") {
		t.Errorf("--offline asked Telegram or showed read state:\n%s", hist)
	}
}

func TestHistoryReadStateBot(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2, ReadAfter: time.Millisecond})
	out, _, _ := e.sendJSON(0, "--to", friends(2), "bot says")
	hist, code := e.run("history", broadcastID(t, out))
	if code != 0 || strings.Count(hist, "not available")+strings.Count(hist, "does not tell bots") != 1 || !strings.Contains(hist, "sent     @friend1") {
		t.Errorf("history of a bot's broadcast: exit %d\n%s", code, hist)
	}
	if calls := e.srv.Calls("messages.getPeerDialogs"); calls != 0 {
		t.Errorf("a bot asked getPeerDialogs %d times", calls)
	}
}

// On a terminal, retract asks first and does nothing unless told yes.
func TestRetractAsksOnTerminal(t *testing.T) {
	const n = 3
	e := newE2E(t, sandbox.Options{Users: n})
	e.sendJSON(0, "--to", friends(n), "I bought a car!")
	term := startOnTTY(t, e.cmd("retract"), ttyStdin|ttyStdout|ttyStderr)
	term.waitFor(t, `retract "I bought a car!" from 3 recipients? [y/N]`, 1, promptWait)
	term.input(t, "\n")
	if code := term.exit(t); code != 2 || holds(e, n, "I bought a car!") != n {
		t.Fatalf("answered no: exit %d, %d still hold it\n%s", code, holds(e, n, "I bought a car!"), term.String())
	}
	term = startOnTTY(t, e.cmd("retract"), ttyStdin|ttyStdout|ttyStderr)
	term.waitFor(t, "[y/N]", 1, promptWait)
	term.input(t, "y\n")
	if code := term.exit(t); code != 0 || holds(e, n, "I bought a car!") != 0 {
		t.Fatalf("answered yes: exit %d, %d still hold it\n%s", code, holds(e, n, "I bought a car!"), term.String())
	}
}

// Message ids are per account: a broadcast sent by another account is never
// retracted or edited by this one, whose same ids are other messages.
func TestAftercareRefusesAnotherAccount(t *testing.T) {
	const n = 3
	e := newE2E(t, sandbox.Options{Users: n})
	e.sendJSON(0, "--to", friends(n), "from the bot")
	if out, code := e.run("logout"); code != 0 {
		t.Fatalf("logout: exit %d\n%s", code, out)
	}
	if out, code := e.runStdin(strings.NewReader(sandbox.LoginCode+"\n"), "login", "--phone", "+15550000000"); code != 0 {
		t.Fatalf("login: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"retract", "--yes"}, {"edit", "changed"}} {
		out, code := e.run(args...)
		if code != 2 || !strings.Contains(out, "was sent from account") {
			t.Errorf("%s by another account: exit %d\n%s", args[0], code, out)
		}
	}
	if holds(e, n, "from the bot") != n || e.srv.Calls("messages.deleteMessages")+e.srv.Calls("messages.editMessage") != 0 {
		t.Error("another account's broadcast was changed")
	}
}

// A split message whose second part failed (a flood wait the run would not
// sit out): the first part arrived, and retract takes it back.
func TestRetractPartsOfAFailedSplit(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 1, SendRate: 0.2})
	long := strings.Repeat("word ", 1000) // two parts
	out, code := e.run("send", "--json", "--rate", "0", "--split", "--max-flood-wait", "0", "--to", "@friend1", long)
	if code != 3 || len(e.srv.Inbox("friend1")) != 1 {
		t.Fatalf("the split send: exit %d, %d parts arrived\n%s", code, len(e.srv.Inbox("friend1")), tail(out))
	}
	out, code = e.run("retract", "--yes", "--json")
	if code != 0 || statuses(t, out)["retracted"] != 1 {
		t.Fatalf("retract: exit %d\n%s", code, tail(out))
	}
	if in := e.srv.Inbox("friend1"); len(in) != 0 {
		t.Errorf("friend1 still holds %d parts", len(in))
	}
}
