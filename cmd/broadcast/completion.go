package main

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// The man page is generated from the app itself, so it cannot drift from
// --help; TestManPageUpToDate fails when docs/broadcast.1 is stale.
//go:generate go run . man --output ../../docs/broadcast.1

// The bash and zsh scripts are urfave/cli v2's autocomplete/ scripts, made
// for the name broadcast. They ask the binary itself for completions
// (EnableBashCompletion's --generate-bash-completion).
var (
	//go:embed completion/broadcast.bash
	bashCompletion string
	//go:embed completion/broadcast.zsh
	zshCompletion string
)

func completionCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints the script on stdout; load it from your shell's startup file.

Examples:
  source <(broadcast completion bash)                     # in ~/.bashrc
  broadcast completion zsh > "${fpath[1]}/_broadcast"     # or: source <(broadcast completion zsh)
  broadcast completion fish > ~/.config/fish/completions/broadcast.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("e.g. source <(broadcast completion bash)", "completion takes one shell: bash, zsh or fish")
			}
			return runCompletion(ios, c.App, c.Args().First())
		},
	}
}

// runCompletion prints the completion script for shell.
func runCompletion(ios *streams, app *cli.App, shell string) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
		script = s
	default:
		return usagef("the shells are bash, zsh and fish", "no completion for shell %q", shell)
	}
	_, err := fmt.Fprint(ios.out, script)
	return err
}

// manCommand prints the man page; go generate writes docs/broadcast.1 with it.
func manCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff), as docs/broadcast.1 holds it",
		Hidden: true,
		Description: `Examples:
  broadcast man | man -l -
  go generate ./cmd/broadcast     # rewrites docs/broadcast.1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Usage: "write to `FILE` instead of stdout"},
		},
		Action: func(c *cli.Context) error { return runMan(ios, c.App, c.String("output")) },
	}
}

// runMan prints the man page, or writes it to output.
func runMan(ios *streams, app *cli.App, output string) error {
	page, err := manPage(app)
	if err != nil {
		return err
	}
	if output != "" {
		return os.WriteFile(output, []byte(page), 0o644)
	}
	_, err = fmt.Fprint(ios.out, page)
	return err
}

// manPage renders the app's man page in section 1. urfave/cli's page shows
// a command's Usage and flags but not its Description, so a copy of each
// command carries its synopsis and Description (with the examples) as
// UsageText, which the page prints as a block.
func manPage(app *cli.App) (string, error) {
	doc := *app
	doc.Commands = documented(app.Commands, app.Name)
	page, err := doc.ToManWithSection(1)
	if err != nil {
		return "", fmt.Errorf("man page: %w", err)
	}
	return page, nil
}

func documented(cmds []*cli.Command, parent string) []*cli.Command {
	out := make([]*cli.Command, 0, len(cmds))
	for _, c := range cmds {
		d := *c
		name := parent + " " + c.Name
		d.UsageText = name + " [flags]"
		if c.ArgsUsage != "" {
			d.UsageText += " " + c.ArgsUsage
		}
		if c.Description != "" {
			d.UsageText += "\n\n" + c.Description
		}
		d.Subcommands = documented(c.Subcommands, name)
		out = append(out, &d)
	}
	return out
}

// completionFlag is what urfave/cli's completion scripts append to ask the
// binary for the words that may come next.
const completionFlag = "--generate-bash-completion"

// completeValues answers what urfave/cli cannot: the values of a flag and a
// command's argument. After --list come the config's list names; after
// history or resume, the journal's broadcast ids. ok is false when the words
// are not such a place, and urfave/cli answers as usual.
func completeValues(ios *streams, words []string) (out []string, ok bool) {
	if len(words) == 0 {
		return nil, false
	}
	flagValue := func(name string) string {
		for i, w := range words {
			if w == "--"+name && i+1 < len(words) {
				return words[i+1]
			}
			if v, ok := strings.CutPrefix(w, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	switch last := words[len(words)-1]; {
	case last == "--list":
		path, explicit := flagValue("config"), true
		if path == "" {
			path = ios.getenv("BROADCAST_CONFIG")
		}
		if path == "" {
			path, explicit = config.DefaultPath(ios.getenv), false
		}
		cfg, err := config.Load(path, explicit)
		if err != nil {
			return nil, true
		}
		return cfg.ListOrder, true
	case last == "history" || last == "resume" || last == "retract" || last == "edit":
		dir := flagValue("state-dir")
		if dir == "" {
			dir = ios.getenv("BROADCAST_STATE_DIR")
		}
		if dir == "" {
			dir = defaultStateDir(ios.getenv)
		}
		st, err := store.OpenForRead(dir, store.Options{})
		if err != nil {
			return nil, true
		}
		defer st.Close()
		bs, _ := st.Broadcasts()
		for _, b := range bs {
			switch {
			case last == "resume" && (b.State == store.StateFinished || !b.RetractedAt.IsZero()):
			case (last == "retract" || last == "edit") && !b.RetractedAt.IsZero():
			default:
				out = append(out, b.ID)
			}
		}
		return out, true
	}
	return nil, false
}
