package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/telegram"
)

func logoutCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "logout",
		Usage: "end the session on the server and delete it locally",
		Description: `Tells the server to end the session, then deletes it from the state dir. A
session the server has already ended is deleted all the same.

Examples:
  broadcast logout
  BROADCAST_STATE_DIR=/srv/broadcast broadcast logout`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("", "logout takes no arguments")
			}
			return runLogout(c.Context, g)
		},
	}
}

// runLogout ends the session on the server, then deletes it locally.
func runLogout(ctx context.Context, g *globals) error {
	st, _, client, err := g.loggedIn()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := client.Run(ctx, client.Logout); err != nil {
		return err
	}
	if !g.quiet {
		fmt.Fprintln(g.io.err, "broadcast: logged out; the session was deleted")
	}
	return nil
}

func whoamiCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "whoami",
		Usage: "show the logged-in account (no network call)",
		Description: `Shows the account saved at login and the data centre (DC) its session lives
on; exits 4 when nobody is logged in.

Examples:
  broadcast whoami
  broadcast whoami --json | jq .username`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("", "whoami takes no arguments")
			}
			return runWhoami(g)
		},
	}
}

// runWhoami shows the account saved at login, without a network call; it
// reads a live copy of the state while a send runs.
func runWhoami(g *globals) error {
	st, err := g.openStoreForRead()
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := g.account(st)
	if err != nil {
		return err
	}
	if err := telegram.CheckSession(st); err != nil {
		return err
	}
	dc, err := telegram.SessionDC(st)
	if err != nil {
		return err
	}
	return printAccountOn(g, a, dc, "")
}
