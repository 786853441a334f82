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

// retractOptions is `broadcast retract [ID]`.
type retractOptions struct {
	id     string // empty: the latest broadcast
	to     []string
	yes    bool
	dryRun bool
	pacing sendOptions
}

func retractCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "retract",
		Usage:     "delete a broadcast's messages for every recipient (the latest broadcast by default)",
		ArgsUsage: "[ID]",
		Description: `Deletes the messages for both sides, as "Delete for everyone" does: people's
and basic groups' messages many recipients to a call, each channel's or
supergroup's in calls of their own. On a terminal it asks first; elsewhere it
needs --yes. Telegram limits how long after sending a message may be deleted
(in private chats bots may for 48 h, users always): older ones are reported
failed with their age. Running it again finishes an interrupted retract and
skips the rest. A retracted broadcast is not resumed or sent again by the
same command.

Examples:
  broadcast retract
  broadcast retract b7c1e0d2a9f4 --to @alice --to @bob
  broadcast retract --dry-run
  broadcast retract b7c1e0d2a9f4 --yes --json`,
		Flags: append(pacingFlags(),
			&cli.StringSliceFlag{Name: "to", Usage: "retract from recipient `R` only (repeatable; comma lists allowed)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask; needed when stdin is not a terminal"},
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would be retracted, without connecting"},
		),
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if err := flagAfterArgs(c, "the ID"); err != nil {
				return err
			}
			if c.NArg() > 1 {
				return usagef("e.g. broadcast retract b7c1e0d2a9f4", "retract takes one broadcast ID, got %d arguments", c.NArg())
			}
			pacing, err := pacingFrom(c, g)
			if err != nil {
				return err
			}
			return runRetract(c.Context, g, retractOptions{id: c.Args().First(), to: c.StringSlice("to"),
				yes: c.Bool("yes"), dryRun: c.Bool("dry-run"), pacing: pacing})
		},
	}
}

func runRetract(ctx context.Context, g *globals, o retractOptions) error {
	st, acct, b, err := openChange(g, o.id, "retract")
	if err != nil {
		return err
	}
	defer st.Close()
	chosen, pending, err := chosenEntries(st, b, o.to, false)
	if err != nil {
		return err
	}
	if len(chosen) == 0 && len(pending) == 0 {
		if !g.quiet {
			fmt.Fprintf(g.io.err, "broadcast: broadcast %s reached nobody: nothing to retract\n", b.ID)
		}
		return nil
	}
	if o.dryRun {
		return retractDryRun(g, b, chosen, pending)
	}
	if !o.yes {
		q := fmt.Sprintf("retract %q from %d %s?", preview(b.Text), len(chosen), plural(len(chosen), "recipient", "recipients"))
		if err := confirm(ctx, g, q, "add --yes to retract without asking"); err != nil {
			return err
		}
	}
	ch := &change{g: g, st: st, acct: acct, b: b, verbs: retractVerbs, unknown: pending, unknownErr: errOutcomeUnknown,
		limit: func(l telegram.Limits) time.Duration { return l.Revoke }}
	ch.start(len(chosen) + len(pending))
	defer ch.rep.close()
	ch.work = func(ctx context.Context, c *telegram.Client, limit time.Duration) (fanout.Summary, error) {
		return delivery.Retract(ctx, st, c, b, chosen, delivery.RetractOptions{
			Limit: limit, Bot: acct.Bot, Now: g.io.now(), PerCall: telegram.DeleteMax, Whole: len(o.to) == 0,
			Engine: engineOptions(g, o.pacing, acct.Bot, ch.rep),
		}, ch.report)
	}
	return ch.run(ctx)
}

// errOutcomeUnknown: a send whose outcome the journal does not know (a run
// stopped while it was on the wire) has no message id to delete.
var errOutcomeUnknown = &telegram.RPCError{Type: "UNKNOWN", Detail: "the send's outcome is unknown (a run stopped while it was on the wire), so there is no message id to delete; if it arrived, delete it in the Telegram app"}

func retractDryRun(g *globals, b store.Broadcast, chosen, pending []store.Entry) error {
	if g.json {
		var rs []map[string]any
		for _, e := range chosen {
			rs = append(rs, map[string]any{"recipient": e.Recipient, "peer_id": e.PeerID, "message_ids": e.Messages(),
				"retracted": !e.RetractedAt.IsZero()})
		}
		return writeJSON(g.io.out, map[string]any{"dry_run": map[string]any{"broadcast_id": b.ID, "text": b.Text, "recipients": rs, "unknown": len(pending)}})
	}
	fmt.Fprintf(g.io.out, "would retract broadcast %s %q from %d %s:\n", b.ID, preview(b.Text), len(chosen), plural(len(chosen), "recipient", "recipients"))
	for _, e := range chosen {
		note := ""
		if !e.RetractedAt.IsZero() {
			note = " (already retracted)"
		}
		fmt.Fprintf(g.io.out, "  %s (%s %v)%s\n", e.Recipient, plural(len(e.Messages()), "message", "messages"), joinInts(e.Messages()), note)
	}
	if len(pending) > 0 {
		fmt.Fprintf(g.io.out, "(and %d whose send's outcome is unknown: they cannot be retracted from here)\n", len(pending))
	}
	return nil
}

func joinInts(ids []int) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(id)
	}
	return s
}
