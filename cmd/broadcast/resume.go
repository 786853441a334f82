package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// resumeOptions is `broadcast resume [ID]` with send's pacing flags.
type resumeOptions struct {
	id   string // empty: the latest unfinished broadcast
	send sendOptions
}

func resumeCommand(ios *streams) *cli.Command {
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
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 1 {
				return usagef("`broadcast history` lists the ids", "resume takes one broadcast ID, got %d arguments", c.NArg())
			}
			so, err := sendOptionsFrom(c, g, ios)
			if err != nil {
				return err
			}
			return runResume(c.Context, g, resumeOptions{id: c.Args().First(), send: so})
		},
	}
}

// runResume finishes a broadcast from its journal record alone: the same
// message (attachments checked unchanged) to the recipients not confirmed.
func runResume(ctx context.Context, g *globals, ro resumeOptions) error {
	o := ro.send
	b, err := findResumable(g, ro.id)
	if err != nil {
		return err
	}
	spec, err := delivery.SpecOf(b)
	if err != nil {
		return err
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
			return b, notInJournal(st, id)
		}
		return b, err
	}
	bs, err := st.Broadcasts()
	if err != nil {
		return store.Broadcast{}, err
	}
	for _, b := range bs {
		if b.State != store.StateFinished && b.RetractedAt.IsZero() {
			return b, nil
		}
	}
	return store.Broadcast{}, usagef("`broadcast history` shows past broadcasts", "no unfinished broadcast to resume")
}
