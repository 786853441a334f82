package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// historyOptions is `broadcast history [ID]`.
type historyOptions struct {
	id string // empty: every broadcast, one line each
}

func historyCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "past broadcasts from the journal, or one broadcast's recipients",
		ArgsUsage: "[ID]",
		Description: `Without ID, one line per broadcast; with ID, that broadcast's recipients and
what happened to each: sent, failed, pending (outcome unknown until resumed)
or not sent yet. It answers while a send runs, from a live copy of the journal.

Examples:
  broadcast history
  broadcast history b7c1e0d2a9f4
  broadcast history --json b7c1e0d2a9f4 | jq -r 'select(.status == "failed") | .recipient'`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 1 {
				return usagef("e.g. broadcast history b7c1e0d2a9f4", "history takes one broadcast ID, got %d arguments", c.NArg())
			}
			return runHistory(g, historyOptions{id: c.Args().First()})
		},
	}
}

func runHistory(g *globals, o historyOptions) error {
	st, err := g.openStoreForRead()
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Snapshot() && !g.quiet && !g.json {
		fmt.Fprintln(g.io.err, "broadcast: a broadcast is running; this is the journal as of now")
	}
	if o.id == "" {
		return listBroadcasts(g, st)
	}
	return showBroadcast(g, st, o.id)
}

// listBroadcasts prints one line per broadcast, newest first.
func listBroadcasts(g *globals, st *store.Store) error {
	bs, err := st.Broadcasts()
	if err != nil {
		return err
	}
	for _, b := range bs {
		es, err := st.Entries(b.ID)
		if err != nil {
			return err
		}
		sent := 0
		for _, e := range es {
			if e.Status == store.EntrySent {
				sent++
			}
		}
		if g.json {
			if err := writeJSON(g.io.out, map[string]any{"broadcast_id": b.ID, "state": b.State, "created_at": b.CreatedAt,
				"recipients": len(b.Recipients), "sent": sent, "text": b.Text}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(g.io.out, "%s  %s  %-11s %d/%d sent  %q\n", b.ID, b.CreatedAt.Local().Format("2006-01-02 15:04"), b.State, sent, len(b.Recipients), preview(b.Text))
	}
	return nil
}

// notSent is the status of a recipient no run has reached yet.
const notSent store.EntryStatus = "not_sent"

// showBroadcast prints one broadcast and every one of its recipients.
func showBroadcast(g *globals, st *store.Store, id string) error {
	b, err := st.LoadBroadcast(id)
	if errors.Is(err, store.ErrNotFound) {
		return usagef("`broadcast history` lists them", "no broadcast %q in the journal", id)
	}
	if err != nil {
		return err
	}
	es, err := st.Entries(b.ID)
	if err != nil {
		return err
	}
	if !g.json {
		fmt.Fprintf(g.io.out, "broadcast %s (%s), %s: %q\n", b.ID, b.State, b.CreatedAt.Local().Format("2006-01-02 15:04"), preview(b.Text))
	}
	// The journal only has the recipients a run touched.
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Recipient] = true
	}
	for _, r := range b.Recipients {
		if !seen[r] {
			es = append(es, store.Entry{Recipient: r, Status: notSent})
		}
	}
	for _, e := range es {
		if g.json {
			if err := writeJSON(g.io.out, map[string]any{"recipient": e.Recipient, "peer_id": e.PeerID, "status": e.Status,
				"message_id": e.MessageID, "error": e.Error, "attempts": e.Attempts}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(g.io.out, entryLine(e))
	}
	return nil
}

func entryLine(e store.Entry) string {
	line := fmt.Sprintf("%-8s %s", strings.ReplaceAll(string(e.Status), "_", " "), e.Recipient)
	if e.MessageID != 0 {
		line += fmt.Sprintf(" (message %d)", e.MessageID)
	}
	if e.Error != "" {
		line += ": " + e.Error
	}
	return line
}

func preview(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return s
}
