package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// resolveOptions is `broadcast resolve R...`.
type resolveOptions struct {
	recipients []recipient.Recipient
}

func resolveCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "check recipients without sending (cached names need no network call)",
		ArgsUsage: "R...",
		Description: `Shows what each recipient is: a user, a group (a basic group), a supergroup, a
channel, or a topic of a forum supergroup, with its id (a chat's is negative,
as the Bot API writes it).

Examples:
  broadcast resolve @alice t.me/bob +15551234567
  broadcast resolve @club_forum/42 t.me/c/1234567890
  broadcast resolve --json @alice | jq .peer_id`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
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
			return runResolve(c.Context, g, resolveOptions{recipients: rs})
		},
	}
}

// runResolve resolves each recipient (from the peer cache when it can) and
// reports it; exit 3 if any could not be.
func runResolve(ctx context.Context, g *globals, o resolveOptions) error {
	st, _, client, err := g.loggedIn()
	if err != nil {
		return err
	}
	defer st.Close()
	failed := 0
	err = client.Run(ctx, func(ctx context.Context) error {
		for _, r := range o.recipients {
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
				line["status"], line["peer_id"], line["kind"] = "ok", p.ID, telegram.KindName(p, r.Topic)
				line["username"], line["first_name"], line["last_name"] = p.Username, p.FirstName, p.LastName
				if telegram.IsChat(p) {
					// A chat's title is what {first_name} fills.
					line["title"], line["recipient"] = p.FirstName, telegram.Recipient(p, r.Topic)
				}
				if r.Topic != 0 {
					line["topic"], line["chat_kind"] = r.Topic, telegram.KindName(p, 0)
				}
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
			if r.Topic != 0 {
				fmt.Fprintf(g.io.out, "ok       %s → topic %d of %s %d (%s)\n", r.Input, r.Topic, telegram.KindName(p, 0), p.ID, name)
				continue
			}
			fmt.Fprintf(g.io.out, "ok       %s → %s %d (%s)\n", r.Input, telegram.KindName(p, 0), p.ID, name)
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
