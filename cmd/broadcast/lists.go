package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

func listsCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "lists",
		Usage: "show the lists in the config",
		Description: `One line per list, the default list marked; --json gives one object a list.

Examples:
  broadcast lists
  broadcast lists --json | jq -r 'select(.default) | .recipients[]'`,
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			return runLists(g)
		},
	}
}

// runLists prints the config's lists, the default one marked.
func runLists(g *globals) error {
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
}

func orNone(p string) string {
	if p == "" {
		return "the config (no config file found)"
	}
	return p
}
