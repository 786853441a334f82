package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// pruneBudget bounds the pruning at the start of a send: a send is never held
// up for long by history, and what does not fit is pruned by the next one.
const pruneBudget = 250 * time.Millisecond

// pruneOptions is `broadcast history prune [--older-than D]`.
type pruneOptions struct {
	olderThan time.Duration
	given     bool   // --older-than was given (else history.keep)
	from      string // where olderThan came from, for the report
}

func pruneCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove the journals of finished broadcasts older than D, and say which",
		Description: `Every send does this by itself for broadcasts older than history.keep (default
90d; 0 keeps everything). Unfinished broadcasts are never removed, however old:
they can still be resumed. Nor is one that finished within the resend window
(send.resend_after), so a re-run of a recent command is still recognised. What
stays of a removed broadcast is its id, which is never used again. When more than
half of state.db is then free space, it is compacted.

Examples:
  broadcast history prune                  # by history.keep
  broadcast history prune --older-than 30d
  broadcast history prune --json --older-than 12h | jq -r 'select(.pruned) | .pruned.broadcast_id'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "older-than", Usage: "remove finished broadcasts last changed more than `D` ago: days (30d) or a duration (36h)", DefaultText: "history.keep, or " + fmtAge(config.DefaultKeep)},
		},
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("e.g. broadcast history prune --older-than 30d", "history prune takes no arguments, got %q", c.Args().First())
			}
			o := pruneOptions{olderThan: keepOf(g), from: "history.keep"}
			if c.IsSet("older-than") {
				d, err := config.ParseAge(c.String("older-than"))
				if err != nil {
					return usagef("e.g. --older-than 30d or --older-than 36h", "--older-than %q: %v", c.String("older-than"), err)
				}
				o.olderThan, o.given, o.from = d, true, "--older-than"
			}
			return runPrune(g, o)
		},
	}
}

// keepOf is history.keep, or its default.
func keepOf(g *globals) time.Duration {
	if g.cfg.History.HasKeep {
		return g.cfg.History.Keep
	}
	return config.DefaultKeep
}

// resendWindowOf is send.resend_after, or its default: broadcasts within it
// are never pruned, or an identical command re-run then would send again.
func resendWindowOf(g *globals) time.Duration {
	if g.cfg.Send.HasResendAfter {
		return g.cfg.Send.ResendAfter
	}
	return delivery.DefaultResendAfter
}

// pruneCutoff is the time before which a finished broadcast goes.
func pruneCutoff(now time.Time, age, resendWindow time.Duration) time.Time {
	return now.Add(-max(age, resendWindow))
}

func runPrune(g *globals, o pruneOptions) error {
	if !o.given && o.olderThan == 0 {
		if !g.quiet && !g.json {
			fmt.Fprintln(g.io.out, "nothing pruned: history.keep is 0, which keeps everything; give --older-than D to prune by hand")
		}
		if g.json {
			return writeJSON(g.io.out, map[string]any{"summary": map[string]any{"removed": 0, "entries": 0, "kept_unfinished": 0}})
		}
		return nil
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	before := pruneCutoff(g.io.now(), o.olderThan, resendWindowOf(g))
	res, err := st.Prune(store.PruneOptions{Before: before})
	if err != nil {
		return err
	}
	comp, err := st.CompactIfSparse()
	if err != nil {
		return err
	}
	return reportPrune(g, o, before, res, comp)
}

func reportPrune(g *globals, o pruneOptions, before time.Time, res store.PruneResult, comp store.Compaction) error {
	if g.json {
		for _, m := range res.Removed {
			err := writeJSON(g.io.out, map[string]any{"pruned": map[string]any{"broadcast_id": m.ID, "created_at": m.CreatedAt,
				"finished_at": m.UpdatedAt, "state": m.State, "recipients": m.Recipients, "sent": m.Sent, "text": m.Text}})
			if err != nil {
				return err
			}
		}
		sum := map[string]any{"removed": len(res.Removed), "entries": res.Entries, "kept_unfinished": res.KeptUnfinished,
			"finished_before": before}
		if comp.Done {
			sum["compacted"] = map[string]any{"bytes_before": comp.Before, "bytes_after": comp.After}
		}
		return writeJSON(g.io.out, map[string]any{"summary": sum})
	}
	out := g.io.out
	if len(res.Removed) == 0 {
		fmt.Fprintf(out, "nothing to prune: no broadcast finished before %s (%s %s)\n", before.Local().Format("2006-01-02 15:04"), o.from, fmtAge(o.olderThan))
	} else if !g.quiet {
		for _, m := range res.Removed {
			fmt.Fprintf(out, "removed  %s  %s  %d/%d sent  %q\n", m.ID, m.CreatedAt.Local().Format("2006-01-02 15:04"), m.Sent, m.Recipients, preview(m.Text))
		}
	}
	if len(res.Removed) > 0 {
		fmt.Fprintf(out, "removed %d finished %s from before %s (%s %s), %d journal entries\n",
			len(res.Removed), countNoun(len(res.Removed), "broadcast"), before.Local().Format("2006-01-02 15:04"), o.from, fmtAge(o.olderThan), res.Entries)
	}
	if res.KeptUnfinished > 0 {
		fmt.Fprintf(out, "kept %d unfinished %s from before then: `broadcast resume ID` finishes one, `broadcast history` lists them\n",
			res.KeptUnfinished, countNoun(res.KeptUnfinished, "broadcast"))
	}
	if comp.Done {
		fmt.Fprintf(out, "compacted state.db from %s to %s\n", fmtBytes(comp.Before), fmtBytes(comp.After))
	}
	return nil
}

// pruneAtSend removes finished broadcasts past history.keep before a send,
// for at most pruneBudget (the rest goes at the next send), and compacts a
// state.db that is more than half free. It runs with the lock held and
// before live reads are served, so nobody sees the file change. A failure
// is logged and the send goes on: it does not depend on old journals.
func pruneAtSend(g *globals, st *store.Store, resendWindow time.Duration) {
	keep := keepOf(g)
	if keep == 0 {
		return
	}
	start := time.Now()
	res, err := st.Prune(store.PruneOptions{Before: pruneCutoff(g.io.now(), keep, resendWindow), Deadline: start.Add(pruneBudget)})
	if err != nil {
		g.log.Warn("could not prune the journal", "err", err)
		return
	}
	if len(res.Removed) > 0 || res.More {
		g.log.Debug("pruned the journal (history.keep)", "broadcasts", len(res.Removed), "entries", res.Entries,
			"more_next_time", res.More, "took", time.Since(start).Round(time.Millisecond))
	}
	comp, err := st.CompactIfSparse()
	switch {
	case err != nil && !errors.Is(err, store.ErrServing):
		g.log.Warn("could not compact the state database", "err", err)
	case comp.Done:
		g.log.Debug("compacted the state database", "bytes_before", comp.Before, "bytes_after", comp.After)
	}
}

// notInJournal is the error for a broadcast id the journal does not hold:
// pruned, or never there.
func notInJournal(st *store.Store, id string) error {
	if t, ok, _ := st.Pruned(id); ok {
		return usagef("`broadcast history` lists the broadcasts kept (history.keep)",
			"broadcast %s finished on %s; its journal has since been pruned", id, t.FinishedAt.Local().Format("2006-01-02"))
	}
	return usagef("`broadcast history` lists them", "no broadcast %q in the journal", id)
}

// fmtAge prints a retention as it is written in the config: 90d, 36h.
func fmtAge(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmtDuration(d)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func countNoun(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
