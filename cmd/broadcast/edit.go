package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// editOptions is `broadcast edit [ID] NEW_MESSAGE`.
type editOptions struct {
	id string // empty: the latest broadcast
	// parseModeSet: --parse-mode was given; otherwise the broadcast's own.
	parseModeSet bool
	send         sendOptions // the message, parse mode and pacing
}

func editCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "edit",
		Usage:     "change a broadcast's text (or caption) for every recipient (the latest broadcast by default)",
		ArgsUsage: "[ID] NEW_MESSAGE",
		Description: `Edits every recipient's message to the new text, paced and retried as send is.
The parse mode is the broadcast's own unless --parse-mode is given; a
--template broadcast is filled again for each recipient, and a --split one
must split into as many parts as it was sent in. Telegram lets users edit for
48 h (bots: no limit); older messages are reported failed with their age.
Running the same edit again finishes an interrupted one and skips those done.

Examples:
  broadcast edit "I bought a boat!"
  broadcast edit b7c1e0d2a9f4 "I bought a *red* car!" --parse-mode markdown
  broadcast edit b7c1e0d2a9f4 --message-file fixed.txt`,
		Flags: append(pacingFlags(),
			&cli.StringFlag{Name: "message-file", Usage: "read the new message from `FILE`"},
			&cli.StringFlag{Name: "parse-mode", Usage: "plain, markdown or html", DefaultText: "the broadcast's"},
			&cli.BoolFlag{Name: "dry-run", Usage: "check the new text and show what would change, without connecting"},
		),
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			so, err := pacingFrom(c, g)
			if err != nil {
				return err
			}
			if err := flagAfterArgs(c, "the message"); err != nil {
				return err
			}
			o := editOptions{parseModeSet: c.IsSet("parse-mode"), send: so}
			args := c.Args().Slice()
			switch {
			case len(args) > 2:
				return usagef(`e.g. broadcast edit b7c1e0d2a9f4 "the new text"`, "edit takes a broadcast ID and the new message, got %d arguments", len(args))
			case len(args) == 2:
				o.id = args[0]
				o.send.message, o.send.hasMessage = args[1], args[1] != "-"
			case len(args) == 1 && (so.messageFile != "" || args[0] == "-" || isBroadcastID(g, args[0])):
				// An ID (the text comes from elsewhere), never the text by
				// mistake: `echo text | broadcast edit ID` edits ID.
				if args[0] != "-" {
					o.id = args[0]
				}
			case len(args) == 1:
				o.send.message, o.send.hasMessage = args[0], true
			}
			if o.send.hasMessage && so.messageFile != "" {
				return usagef("use one of them", "both a message argument and --message-file were given")
			}
			return runEdit(c.Context, g, o)
		},
	}
}

// isBroadcastID: s names a broadcast in the journal.
func isBroadcastID(g *globals, s string) bool {
	st, err := g.openStoreForRead()
	if err != nil {
		return false
	}
	defer st.Close()
	_, err = st.LoadBroadcast(s)
	return err == nil
}

func runEdit(ctx context.Context, g *globals, o editOptions) error {
	text, err := readMessage(ctx, o.send, g.io)
	if err != nil {
		return err
	}
	st, acct, b, err := openChange(g, o.id, "edit")
	if err != nil {
		return err
	}
	defer st.Close()
	if !b.RetractedAt.IsZero() {
		return usagef("send the new text as a new broadcast", "broadcast %s was retracted at %s: it cannot be edited", b.ID, b.RetractedAt.Local().Format("2006-01-02 15:04"))
	}
	spec, err := delivery.SpecOf(b)
	if err != nil {
		return err
	}
	mode := spec.ParseMode
	if o.parseModeSet {
		mode = o.send.parseMode
	}
	msg, err := telegram.Prepare(telegram.Content{
		Text: text, ParseMode: mode, NoPreview: spec.NoPreview, Template: spec.Template, Split: spec.Split,
		Caption: len(spec.Attachments) > 0,
	})
	if err != nil {
		return err
	}
	all, pending, err := chosenEntries(st, b, nil, true)
	if err != nil {
		return err
	}
	// Messages retracted from some recipients are gone: nothing to edit.
	var chosen []store.Entry
	for _, e := range all {
		if e.RetractedAt.IsZero() {
			chosen = append(chosen, e)
		}
	}
	if n := len(all) - len(chosen); n > 0 && !g.quiet {
		fmt.Fprintf(g.io.err, "broadcast: leaving out %d %s the broadcast was retracted from\n", n, plural(n, "recipient", "recipients"))
	}
	if err := checkParts(st, b, msg, chosen); err != nil {
		return err
	}
	edit := store.Edit{Text: text, ParseMode: msg.Content.ParseMode, Digest: delivery.EditDigest(text, msg.Content.ParseMode), At: g.io.now()}
	if o.send.dryRun {
		return editDryRun(g, b, msg, chosen, edit)
	}
	if len(chosen) == 0 && len(pending) == 0 {
		if !g.quiet {
			fmt.Fprintf(g.io.err, "broadcast: broadcast %s reached nobody: nothing to edit\n", b.ID)
		}
		return nil
	}
	if !g.quiet {
		fmt.Fprintf(g.io.err, "broadcast: editing broadcast %s (%q) for %d %s\n", b.ID, preview(currentText(b)), len(chosen), plural(len(chosen), "recipient", "recipients"))
	}
	ch := &change{g: g, st: st, acct: acct, b: b, verbs: editVerbs, unknown: pending, unknownErr: errEditUnknown,
		limit: func(l telegram.Limits) time.Duration { return l.Edit }}
	ch.start(len(chosen) + len(pending))
	defer ch.rep.close()
	ch.work = func(ctx context.Context, c *telegram.Client, limit time.Duration) (fanout.Summary, error) {
		return delivery.Edit(ctx, st, c.Editor(msg), b, chosen, delivery.EditOptions{
			Edit: edit, Limit: limit, Bot: acct.Bot, Now: g.io.now(),
			Engine: engineOptions(g, o.send, acct.Bot, ch.rep),
		}, ch.report)
	}
	return ch.run(ctx)
}

var errEditUnknown = &telegram.RPCError{Type: "UNKNOWN", Detail: "the send's outcome is unknown (a run stopped while it was on the wire), so there is no message id to edit; run `broadcast resume` first"}

// currentText is what a broadcast's messages say now: its latest edit, or
// the text it was sent with.
func currentText(b store.Broadcast) string {
	if b.Edit != nil {
		return b.Edit.Text
	}
	return b.Text
}

// checkParts refuses, before anything is edited, a new text that is not as
// many messages as a recipient was sent: a split broadcast's parts are
// edited one for one. A caption is always one message.
func checkParts(st *store.Store, b store.Broadcast, msg *telegram.Message, chosen []store.Entry) error {
	if msg.Content.Caption {
		return nil
	}
	for _, e := range chosen {
		p := store.Peer{ID: e.PeerID}
		if msg.Content.Template {
			if cached, ok, err := st.LookupPeer(fmt.Sprintf("id:%d", e.PeerID)); err == nil && ok {
				p = cached
			}
		}
		got, err := msg.PartsFor(p)
		if err != nil {
			return usagef("shorten the text", "for %s: %v", e.Recipient, err)
		}
		if want := len(e.Messages()); want > 0 && got != want {
			return usagef(fmt.Sprintf("give a text of %d parts, or retract the broadcast and send the new text anew", want),
				"broadcast %s was sent to %s as %d %s and the new text is %d: a split broadcast is edited part for part",
				b.ID, e.Recipient, want, plural(want, "message", "messages"), got)
		}
	}
	return nil
}

func editDryRun(g *globals, b store.Broadcast, msg *telegram.Message, chosen []store.Entry, edit store.Edit) error {
	todo := 0
	for _, e := range chosen {
		if e.Edit != edit.Digest {
			todo++
		}
	}
	if g.json {
		return writeJSON(g.io.out, map[string]any{"dry_run": map[string]any{
			"broadcast_id": b.ID, "text": currentText(b), "new_text": msg.Text(), "parse_mode": edit.ParseMode,
			"recipients": len(chosen), "to_edit": todo,
		}})
	}
	fmt.Fprintf(g.io.out, "would edit broadcast %s for %d of %d recipients\n", b.ID, todo, len(chosen))
	fmt.Fprintf(g.io.out, "now:  %s\n", currentText(b))
	fmt.Fprintf(g.io.out, "new:  %s\n", msg.Text())
	return nil
}
