package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// historyOptions is `broadcast history [ID]`.
type historyOptions struct {
	id string // empty: every broadcast, one line each
	// offline: do not ask Telegram who has read the broadcast.
	offline bool
}

func historyCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "past broadcasts from the journal, or one broadcast's recipients",
		ArgsUsage: "[ID]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "offline", Usage: "do not ask Telegram who has read the broadcast"},
		},
		Subcommands:     []*cli.Command{pruneCommand(ios)},
		HideHelpCommand: true,
		Description: `Without ID, one line per broadcast; with ID, that broadcast's recipients and
what became of each: read, sent (not read yet), edited, retracted, failed,
pending (outcome unknown until resumed) or not sent yet. Read state comes
from Telegram (users only: Telegram does not tell bots); --offline skips it.
It answers while a send runs, from a live copy of the journal.

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
			return runHistory(c.Context, g, historyOptions{id: c.Args().First(), offline: c.Bool("offline")})
		},
	}
}

func runHistory(ctx context.Context, g *globals, o historyOptions) error {
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
	return showBroadcast(ctx, g, st, o.id, o.offline)
}

// listBroadcasts prints one line per broadcast, newest first, from the
// summaries: a few hundred bytes each, however many recipients.
func listBroadcasts(g *globals, st *store.Store) error {
	bs, err := st.Summaries()
	if err != nil {
		return err
	}
	for _, b := range bs {
		sent := b.Sent
		if g.json {
			line := map[string]any{"broadcast_id": b.ID, "state": b.State, "created_at": b.CreatedAt,
				"recipients": b.Recipients, "sent": sent, "text": b.Text}
			if b.Edit != nil {
				line["edited_text"], line["edited_at"] = b.Edit.Text, b.Edit.At
			}
			if !b.RetractedAt.IsZero() {
				line["retracted_at"] = b.RetractedAt
			}
			if err := writeJSON(g.io.out, line); err != nil {
				return err
			}
			continue
		}
		state := string(b.State)
		if !b.RetractedAt.IsZero() {
			state = "retracted"
		}
		text := b.Text
		if b.Edit != nil {
			text = b.Edit.Text
		}
		fmt.Fprintf(g.io.out, "%s  %s  %-11s %d/%d sent  %q\n", b.ID, b.CreatedAt.Local().Format("2006-01-02 15:04"), state, sent, b.Recipients, preview(text))
	}
	return nil
}

// notSent is the status of a recipient no run has reached yet.
const notSent store.EntryStatus = "not_sent"

// showBroadcast prints one broadcast and every one of its recipients, with
// whether each has read it when Telegram can say.
func showBroadcast(ctx context.Context, g *globals, st *store.Store, id string, offline bool) error {
	b, err := st.LoadBroadcast(id)
	if errors.Is(err, store.ErrNotFound) {
		return notInJournal(st, id)
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
		if b.Edit != nil {
			fmt.Fprintf(g.io.out, "edited %s to: %q\n", b.Edit.At.Local().Format("2006-01-02 15:04"), preview(b.Edit.Text))
		}
		if !b.RetractedAt.IsZero() {
			fmt.Fprintf(g.io.out, "retracted %s\n", b.RetractedAt.Local().Format("2006-01-02 15:04"))
		}
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
	var read map[int64]int // nil: read state unknown
	if !offline {
		read = readState(ctx, g, st, b, es)
	}
	var tally historyTally
	for _, e := range es {
		state, isRead := recipientState(b, e, read)
		tally.add(isRead, e, read != nil)
		if g.json {
			line := map[string]any{"recipient": e.Recipient, "peer_id": e.PeerID, "status": e.Status, "state": state,
				"message_id": e.MessageID, "error": e.Error, "attempts": e.Attempts}
			if ids := e.Messages(); len(ids) > 1 {
				line["message_ids"] = ids
			}
			if e.Status == store.EntrySent && read != nil && e.RetractedAt.IsZero() {
				line["read"] = isRead
			}
			for k, t := range map[string]time.Time{"sent_at": e.SentAt, "edited_at": e.EditedAt, "retracted_at": e.RetractedAt} {
				if !t.IsZero() {
					line[k] = t
				}
			}
			if e.ChangeError != "" {
				line["change_error"] = e.ChangeError
			}
			if err := writeJSON(g.io.out, line); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(g.io.out, entryLine(e, state))
	}
	if g.json {
		return writeJSON(g.io.out, map[string]any{"summary": tally.json(b.ID, read != nil)})
	}
	fmt.Fprintln(g.io.out, tally.text(read != nil))
	return nil
}

// recipientState is the one word history shows for a recipient: what became
// of the message last (retracted, read, edited) or how its send stands.
func recipientState(b store.Broadcast, e store.Entry, read map[int64]int) (string, bool) {
	if e.Status != store.EntrySent {
		return string(e.Status), false
	}
	ids := e.Messages()
	isRead := len(ids) > 0 && read != nil && ids[len(ids)-1] != 0 && ids[len(ids)-1] <= read[e.PeerID]
	switch {
	case !e.RetractedAt.IsZero():
		return "retracted", false
	case isRead:
		return "read", true
	case e.Edit != "" && b.Edit != nil && e.Edit == b.Edit.Digest:
		return "edited", false
	}
	return "sent", false
}

// historyTally counts a broadcast's recipients by state for the summary.
type historyTally struct {
	total, sent, read, unread, retracted, edited, failed, pending, notSent int
}

func (t *historyTally) add(isRead bool, e store.Entry, readKnown bool) {
	t.total++
	switch e.Status {
	case store.EntrySent:
		t.sent++
		switch {
		case !e.RetractedAt.IsZero():
			t.retracted++
		case readKnown && isRead:
			t.read++
		case readKnown:
			t.unread++
		}
		if !e.EditedAt.IsZero() {
			t.edited++
		}
	case store.EntryFailed:
		t.failed++
	case store.EntryPending:
		t.pending++
	default:
		t.notSent++
	}
}

func (t historyTally) text(readKnown bool) string {
	s := fmt.Sprintf("%d recipients: %d sent", t.total, t.sent)
	if readKnown {
		s += fmt.Sprintf(" (%d read, %d unread)", t.read, t.unread)
	}
	for _, c := range []struct {
		n    int
		word string
	}{{t.edited, "edited"}, {t.retracted, "retracted"}, {t.failed, "failed"}, {t.pending, "pending"}, {t.notSent, "not sent"}} {
		if c.n > 0 {
			s += fmt.Sprintf(", %d %s", c.n, c.word)
		}
	}
	return s
}

func (t historyTally) json(id string, readKnown bool) map[string]any {
	m := map[string]any{"broadcast_id": id, "recipients": t.total, "sent": t.sent, "edited": t.edited,
		"retracted": t.retracted, "failed": t.failed, "pending": t.pending, "not_sent": t.notSent}
	if readKnown {
		m["read"], m["unread"] = t.read, t.unread
	}
	return m
}

// readState asks Telegram which recipients have read the broadcast, for the
// delivered ones still there. It is best effort: history works offline, so
// when Telegram cannot be asked it says why on stderr and returns nil.
func readState(ctx context.Context, g *globals, st *store.Store, b store.Broadcast, es []store.Entry) map[int64]int {
	var peers []store.Peer
	for _, e := range es {
		if e.Status != store.EntrySent || !e.RetractedAt.IsZero() {
			continue
		}
		if p, ok, err := st.LookupPeer(fmt.Sprintf("id:%d", e.PeerID)); err == nil && ok {
			peers = append(peers, p)
		}
	}
	if len(peers) == 0 {
		return nil
	}
	note := func(why string) map[int64]int {
		if !g.quiet {
			fmt.Fprintf(g.io.err, "broadcast: read state is not shown: %s\n", why)
		}
		return nil
	}
	if st.Snapshot() {
		return note("a broadcast is running (run history again when it is done)")
	}
	acct, err := g.account(st)
	if err != nil {
		return note("not logged in")
	}
	if acct.Bot {
		return note("Telegram does not tell bots who has read their messages")
	}
	if sameAccount(b, acct) != nil {
		return note(fmt.Sprintf("the broadcast was sent from account %d, and the logged-in account is %d", b.AccountID, acct.ID))
	}
	client, err := g.client(st)
	if err != nil {
		return note(err.Error())
	}
	// History must answer quickly: a server that does not, costs the read
	// state, not the listing.
	bound := readStateTimeout
	if g.timeout > 0 {
		bound = min(g.timeout, bound)
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var read map[int64]int
	err = client.Run(ctx, func(ctx context.Context) error {
		read, err = client.ReadUpTo(ctx, peers)
		return err
	})
	if err != nil {
		return note(err.Error() + " (--offline skips asking)")
	}
	return read
}

// readStateTimeout bounds asking Telegram for read state.
const readStateTimeout = 10 * time.Second

func entryLine(e store.Entry, state string) string {
	line := fmt.Sprintf("%-8s %s", strings.ReplaceAll(state, "_", " "), e.Recipient)
	switch ids := e.Messages(); {
	case len(ids) > 1:
		line += fmt.Sprintf(" (messages %s)", joinInts(ids))
	case len(ids) == 1:
		line += fmt.Sprintf(" (message %d)", ids[0])
	}
	if e.Error != "" {
		line += ": " + e.Error
	}
	if e.ChangeError != "" {
		line += " [last retract or edit failed: " + e.ChangeError + "]"
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
