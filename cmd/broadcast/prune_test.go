package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// age makes broadcast id look as if its last run ended d ago in state st,
// as it would if it had happened then: its state is set again under a clock
// that reads d ago. The binary has no clock to inject; the store does.
func (e *e2e) age(t *testing.T, id string, d time.Duration, state store.BroadcastState) {
	t.Helper()
	then := time.Now().Add(-d)
	st, err := store.Open(filepath.Join(e.dir, "state"), store.Options{LockTimeout: 5 * time.Second, Now: func() time.Time { return then }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetState(id, state); err != nil {
		t.Fatal(err)
	}
}

// history lists the broadcast ids `broadcast history --json` shows.
func (e *e2e) history(t *testing.T) []string {
	t.Helper()
	out, code := e.run("history", "--json")
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var j struct {
			ID string `json:"broadcast_id"`
		}
		if json.Unmarshal([]byte(l), &j) == nil && j.ID != "" {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

func TestHistoryPrune(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 3})
	_, _, old := e.sendJSON(0, "--to", friends(3), "spring news")
	_, _, stuck := e.sendJSON(0, "--to", friends(2), "summer news")
	_, _, recent := e.sendJSON(0, "--to", friends(3), "autumn news")
	oldID, stuckID, recentID := old.Summary.BroadcastID, stuck.Summary.BroadcastID, recent.Summary.BroadcastID
	e.age(t, oldID, 200*24*time.Hour, store.StateFinished)
	e.age(t, stuckID, 150*24*time.Hour, store.StateInterrupted) // resumable, however old
	e.age(t, recentID, 20*24*time.Hour, store.StateFinished)

	out, code := e.run("history", "prune")
	if code != 0 {
		t.Fatalf("history prune: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"removed  " + oldID + "  ", `3/3 sent  "spring news"`,
		"removed 1 finished broadcast from before ", "(history.keep 90d), 3 journal entries",
		"kept 1 unfinished broadcast from before then: `broadcast resume ID` finishes one",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("history prune's report lacks %q:\n%s", want, out)
		}
	}
	if got, want := fmt.Sprint(e.history(t)), fmt.Sprint([]string{recentID, stuckID}); got != want {
		t.Errorf("history after pruning: %s, want %s", got, want)
	}
	out, code = e.run("history", oldID)
	if code != 2 || !strings.Contains(out, "broadcast "+oldID+" finished on ") || !strings.Contains(out, "its journal has since been pruned") {
		t.Errorf("history of a pruned broadcast: exit %d\n%s", code, out)
	}

	// By hand, with its own age; --json for scripts.
	out, code = e.run("history", "prune", "--json", "--older-than", "10d")
	if code != 0 {
		t.Fatalf("history prune --older-than 10d: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, `"broadcast_id":"`+recentID+`"`) || !strings.Contains(out, `"removed":1`) || !strings.Contains(out, `"kept_unfinished":1`) {
		t.Errorf("history prune --json:\n%s", out)
	}
	out, code = e.run("history", "prune", "--older-than", "10d")
	if code != 0 || !strings.Contains(out, "nothing to prune: no broadcast finished before ") {
		t.Errorf("pruning again: exit %d\n%s", code, out)
	}

	// Bad input: one line, the fix, exit 2.
	out, code = e.run("history", "prune", "--older-than", "3 months")
	if code != 2 || !strings.Contains(out, `--older-than "3 months": expected a number of days such as 90d`) || !strings.Contains(out, "hint: e.g. --older-than 30d") {
		t.Errorf("--older-than 3 months: exit %d\n%s", code, out)
	}
}

// A send removes what history.keep no longer keeps, and a message sent
// again after its journal went is a new broadcast: delivered again, never
// swallowed as a repeat of the old one's random_ids.
func TestPruneAtSend(t *testing.T) {
	e := newE2E(t, sandbox.Options{Users: 2})
	_, _, first := e.sendJSON(0, "--to", friends(2), "happy new year")
	// Grow the journal, so that what the prune frees is worth compacting.
	var fillers []string
	for i := range 8 {
		_, _, s := e.sendJSON(0, "--to", friends(2), fmt.Sprintf("filler %d %s", i, strings.Repeat("x", 4000)))
		fillers = append(fillers, s.Summary.BroadcastID)
	}
	_, _, keep := e.sendJSON(0, "--to", friends(2), "kept")
	// Aged only now: each send prunes what is old enough.
	e.age(t, first.Summary.BroadcastID, 366*24*time.Hour, store.StateFinished)
	for _, id := range fillers {
		e.age(t, id, 100*24*time.Hour, store.StateFinished)
	}
	dbSize := func() int64 {
		fi, err := os.Stat(filepath.Join(e.dir, "state", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := dbSize()

	out, code := e.run("send", "-v", "--json", "--to", friends(2), "happy new year")
	if code != 0 {
		t.Fatalf("a year later: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "pruned the journal (history.keep)") || !strings.Contains(out, "broadcasts=9") || !strings.Contains(out, "compacted the state database") {
		t.Errorf("-v does not tell of the prune:\n%s", out)
	}
	_, summary := parseLines(t, out)
	if summary == nil || summary.Summary.Sent != 2 || summary.Summary.BroadcastID == first.Summary.BroadcastID {
		t.Fatalf("a year later: %+v (the pruned one was %s)", summary, first.Summary.BroadcastID)
	}
	for i := 1; i <= 2; i++ {
		n := 0
		for _, m := range e.srv.Inbox(fmt.Sprintf("friend%d", i)) {
			if m.Text == "happy new year" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("friend%d has %d copies of this year's and last year's message, want 2", i, n)
		}
	}
	if got, want := fmt.Sprint(e.history(t)), fmt.Sprint([]string{summary.Summary.BroadcastID, keep.Summary.BroadcastID}); got != want {
		t.Errorf("history: %s, want %s", got, want)
	}
	if after := dbSize(); after >= before {
		t.Errorf("state.db is %d bytes after pruning and compacting, %d before", after, before)
	}

	// history.keep: 0 keeps everything.
	cfg := filepath.Join(e.dir, "config.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, "history:\n  keep: 0\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.age(t, keep.Summary.BroadcastID, 1000*24*time.Hour, store.StateFinished)
	e.sendJSON(0, "--to", "@friend1", "one more")
	if ids := e.history(t); len(ids) != 3 {
		t.Errorf("with history.keep 0, history shows %v, want all 3", ids)
	}
	out, code = e.run("history", "prune")
	if code != 0 || !strings.Contains(out, "nothing pruned: history.keep is 0") {
		t.Errorf("history prune with keep 0: exit %d\n%s", code, out)
	}
}
