package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

func resolveCommand(io *streams) *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "check recipients without sending (cached names need no network call)",
		ArgsUsage: "R...",
		Description: `Examples:
  broadcast resolve @alice t.me/bob +15551234567
  broadcast resolve --json @alice | jq .peer_id`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, io)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usagef("e.g. broadcast resolve @alice", "no recipients to resolve")
			}
			rs, err := recipient.ParseAll(c.Args().Slice())
			if err != nil {
				return err
			}
			return runResolve(c.Context, g, rs)
		},
	}
}

func runResolve(ctx context.Context, g *globals, rs []recipient.Recipient) error {
	st, _, client, err := g.loggedIn()
	if err != nil {
		return err
	}
	defer st.Close()
	failed := 0
	err = client.Run(ctx, func(ctx context.Context) error {
		for _, r := range rs {
			p, err := client.Resolve(ctx, r)
			if errors.Is(err, telegram.ErrSessionRevoked) {
				return err
			}
			line := map[string]any{"recipient": r.Input}
			if err != nil {
				failed++
				code, detail := errorCode(err)
				if errors.Is(err, telegram.ErrUnknownID) {
					code, detail = "PEER_ID_INVALID", err.Error()
				}
				line["status"], line["error"], line["detail"] = "failed", code, detail
			} else {
				line["status"], line["peer_id"], line["kind"] = "ok", p.ID, p.Kind
				line["username"], line["first_name"], line["last_name"] = p.Username, p.FirstName, p.LastName
			}
			if g.json {
				if err := writeJSON(g.io.out, line); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				fmt.Fprintf(g.io.out, "failed   %s: %s: %s\n", r.Input, line["error"], line["detail"])
				continue
			}
			name := strings.TrimSpace(p.FirstName + " " + p.LastName)
			fmt.Fprintf(g.io.out, "ok       %s → %s %d (%s)\n", r.Input, p.Kind, p.ID, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return &outcomeError{code: exitPartial}
	}
	return nil
}

func listsCommand(io *streams) *cli.Command {
	return &cli.Command{
		Name:  "lists",
		Usage: "show the lists in the config",
		Description: `One line per list, the default list marked; --json gives one object a list.

Examples:
  broadcast lists
  broadcast lists --json | jq -r 'select(.default) | .recipients[]'`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, io)
			if err != nil {
				return err
			}
			for _, name := range g.cfg.ListOrder {
				members := g.cfg.Lists[name]
				if g.json {
					if err := writeJSON(g.io.out, map[string]any{"list": name, "default": name == g.cfg.DefaultList, "recipients": members}); err != nil {
						return err
					}
					continue
				}
				mark := ""
				if name == g.cfg.DefaultList {
					mark = " (default)"
				}
				fmt.Fprintf(g.io.out, "%s%s: %s\n", name, mark, strings.Join(members, ", "))
			}
			if len(g.cfg.ListOrder) == 0 && !g.json && !g.quiet {
				fmt.Fprintf(g.io.err, "broadcast: no lists in %s\n", orNone(g.cfg.Path))
			}
			return nil
		},
	}
}

func orNone(p string) string {
	if p == "" {
		return "the config (no config file found)"
	}
	return p
}

func historyCommand(io *streams) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "past broadcasts from the journal, or one broadcast's recipients",
		ArgsUsage: "[ID]",
		Description: `Without ID, one line per broadcast; with ID, that broadcast's recipients and
what happened to each.

Examples:
  broadcast history
  broadcast history b7c1e0d2a9f4
  broadcast history --json b7c1e0d2a9f4 | jq -r 'select(.status == "failed") | .recipient'`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, io)
			if err != nil {
				return err
			}
			st, err := g.openStoreForRead()
			if err != nil {
				return err
			}
			defer st.Close()
			if st.Snapshot() && !g.quiet && !g.json {
				fmt.Fprintln(g.io.err, "broadcast: a broadcast is running; this is the journal as of now")
			}
			if c.NArg() == 0 {
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
			b, err := st.LoadBroadcast(c.Args().First())
			if errors.Is(err, store.ErrNotFound) {
				return usagef("`broadcast history` lists them", "no broadcast %q in the journal", c.Args().First())
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
			// Every recipient of the broadcast, also those no run has
			// reached yet: the journal only has the ones it touched.
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.Recipient] = true
			}
			for _, r := range b.Recipients {
				if !seen[r] {
					es = append(es, store.Entry{Recipient: r, Status: "not_sent"})
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
				status := string(e.Status)
				if e.Status == store.EntryPending {
					status = "pending" // attempted, outcome unknown until resumed
				}
				line := fmt.Sprintf("%-8s %s", strings.ReplaceAll(status, "_", " "), e.Recipient)
				if e.MessageID != 0 {
					line += fmt.Sprintf(" (message %d)", e.MessageID)
				}
				if e.Error != "" {
					line += ": " + e.Error
				}
				fmt.Fprintln(g.io.out, line)
			}
			return nil
		},
	}
}

func preview(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return s
}

func resumeCommand(io *streams) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "finish an interrupted broadcast (the latest unfinished one by default)",
		ArgsUsage: "[ID]",
		Description: `Sends only to the recipients not yet confirmed, with the same random_ids, so
nobody gets the message twice.

Examples:
  broadcast resume
  broadcast resume b7c1e0d2a9f4 --rate 2
  broadcast history      # find the ID of an unfinished broadcast`,
		Flags: pacingFlags(),
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, io)
			if err != nil {
				return err
			}
			if c.NArg() > 1 {
				return usagef("`broadcast history` lists the ids", "resume takes one broadcast ID, got %d arguments", c.NArg())
			}
			o, err := sendOptionsFrom(c, g, io)
			if err != nil {
				return err
			}
			return runResume(c.Context, g, o, c.Args().First())
		},
	}
}

func runResume(ctx context.Context, g *globals, o sendOptions, id string) error {
	b, err := findResumable(g, id)
	if err != nil {
		return err
	}
	var spec delivery.Spec
	if err := json.Unmarshal(b.Spec, &spec); err != nil {
		return fmt.Errorf("broadcast %s: journal record is damaged: %w", b.ID, err)
	}
	rs, err := recipient.ParseAll(spec.Recipients)
	if err != nil {
		return err
	}
	var paths []string
	for _, a := range spec.Attachments {
		paths = append(paths, a.Path)
	}
	now, err := digests(paths)
	if err != nil {
		return fmt.Errorf("broadcast %s: %w", b.ID, err)
	}
	for i := range now {
		if now[i].SHA256 != spec.Attachments[i].SHA256 {
			return usagef("restore the file, or send it as a new broadcast", "broadcast %s: attachment %s has changed since the broadcast started", b.ID, now[i].Path)
		}
	}
	msg, err := telegram.Prepare(telegram.Content{
		Text: spec.Text, ParseMode: spec.ParseMode, Silent: spec.Silent, NoPreview: spec.NoPreview,
		Schedule: spec.Schedule, Template: spec.Template, Split: spec.Split, Attachments: paths,
	})
	if err != nil {
		return err
	}
	o.silent, o.noPreview = spec.Silent, spec.NoPreview
	return deliver(ctx, g, o, spec, rs, msg, &b)
}

// findResumable picks the broadcast to resume: the one named, or the latest
// that did not finish.
func findResumable(g *globals, id string) (store.Broadcast, error) {
	st, err := g.openStore()
	if err != nil {
		return store.Broadcast{}, err
	}
	defer st.Close()
	if id != "" {
		b, err := st.LoadBroadcast(id)
		if errors.Is(err, store.ErrNotFound) {
			return b, usagef("`broadcast history` lists them", "no broadcast %q in the journal", id)
		}
		return b, err
	}
	bs, err := st.Broadcasts()
	if err != nil {
		return store.Broadcast{}, err
	}
	for _, b := range bs {
		if b.State != store.StateFinished {
			return b, nil
		}
	}
	return store.Broadcast{}, usagef("`broadcast history` shows past broadcasts", "no unfinished broadcast to resume")
}
