package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// maxSessionString bounds what import reads from stdin; a real one is about
// 2 KiB.
const maxSessionString = 64 << 10

func sessionCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "session",
		Usage: "move a logged-in session to another machine as one string",
		Description: `For a server or a container where an interactive login is awkward: log in
where you can, export the session, and import it there. The string is full
access to the account: move it over a channel you trust, and do not use one
session in two places at once (Telegram ends it with AUTH_KEY_DUPLICATED).

Examples:
  broadcast session export | ssh server broadcast session import
  broadcast session export > session.txt && chmod 600 session.txt
  BROADCAST_STATE_DIR=/srv/broadcast broadcast session import < session.txt`,
		Subcommands: []*cli.Command{sessionExportCommand(ios), sessionImportCommand(ios)},
		// `broadcast session help` would only repeat --help, and show up
		// in completions.
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("the session commands are export and import", "unknown command %q for broadcast session", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
	}
}

func sessionExportCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "print the logged-in session as one string on stdout (a secret)",
		Description: `Prints one line on stdout, and a warning on stderr (unless -q). With --json,
prints {"session": ..., "id": ..., "server": ..., "dc": ...}. The string
carries the DC the session lives on and the server's DC addresses, so the
machine it goes to connects straight there.

Examples:
  broadcast session export | ssh server broadcast session import
  broadcast session export > session.txt && chmod 600 session.txt`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("see `broadcast session export --help`", "session export takes no arguments")
			}
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			return runSessionExport(g)
		},
	}
}

func runSessionExport(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := telegram.ExportSession(st)
	if errors.Is(err, telegram.ErrNotLoggedIn) {
		return fmt.Errorf("%w (state dir %s)", err, g.stateDir)
	}
	if err != nil {
		return err
	}
	if !g.quiet {
		fmt.Fprintf(g.io.err, "broadcast: warning: this string is full access to the Telegram account %s: keep it secret, and delete it once imported\n", accountName(e.Account))
	}
	if g.json {
		return writeJSON(g.io.out, map[string]any{"session": e.Encode(), "id": e.Account.ID, "server": e.Server, "dc": e.DC})
	}
	_, err = fmt.Fprintln(g.io.out, e.Encode())
	return err
}

type sessionImportOptions struct {
	force bool
}

func sessionImportCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "read a session string from stdin into the state dir",
		Description: `Reads the string printed by "broadcast session export" from stdin (from the
terminal, without echo, when stdin is one) and saves it in the state dir, so
that broadcast runs there with no login. A state dir that already holds a
session is left alone unless --force is given.

Examples:
  broadcast session import < session.txt
  BROADCAST_STATE_DIR=/srv/broadcast broadcast session import --force < session.txt`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace the session already in the state dir"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("pipe the string in: broadcast session import < session.txt", "session import reads the string from stdin and takes no arguments")
			}
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			return runSessionImport(g, sessionImportOptions{force: c.Bool("force")})
		},
	}
}

func runSessionImport(g *globals, o sessionImportOptions) error {
	raw, err := readSessionString(g.io)
	if err != nil {
		return err
	}
	e, err := telegram.ParseSession(raw)
	if err != nil {
		return err
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.LoadSession(); err == nil && !o.force {
		who := "an account"
		if a, err := st.LoadAccount(); err == nil {
			who = accountName(a)
		}
		return usagef("add --force to replace it, or import into another --state-dir",
			"the state dir %s already holds a session (%s)", g.stateDir, who)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := e.Save(st); err != nil {
		return err
	}
	if here := g.clientOptions().ServerName(); here != e.Server && !g.quiet {
		fmt.Fprintf(g.io.err, "broadcast: warning: this session belongs to %s, but this configuration connects to %s; it works only there\n", e.Server, here)
	}
	return printAccount(g, e.Account, "imported the session of")
}

// readSessionString reads the one string import takes: a line typed without
// echo on a terminal, otherwise all of stdin.
func readSessionString(ios *streams) (string, error) {
	if f, ok := ios.in.(*os.File); ok && ios.inTTY {
		fmt.Fprint(ios.err, "Session string (from `broadcast session export`): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(ios.err)
		if err != nil {
			return "", fmt.Errorf("read session string: %w", err)
		}
		return string(b), nil
	}
	b, err := readLimited(ios.in, maxSessionString)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(b) == "" {
		return "", usagef("pipe in the output of `broadcast session export`", "no session string on stdin")
	}
	return b, nil
}

// readLimited reads at most limit bytes; more is an input error, not a secret
// to hold in memory.
func readLimited(r io.Reader, limit int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return "", fmt.Errorf("read session string: %w", err)
	}
	if int64(len(b)) > limit {
		return "", &telegram.SessionStringError{Reason: fmt.Sprintf("stdin holds more than %d KiB", limit>>10)}
	}
	return string(b), nil
}

// accountName is how a warning names an account: @username, else the name
// and id.
func accountName(a store.Account) string {
	if a.Username != "" {
		return "@" + a.Username
	}
	name := strings.TrimSpace(a.FirstName + " " + a.LastName)
	if name == "" {
		return fmt.Sprintf("%d", a.ID)
	}
	return fmt.Sprintf("%s (%d)", name, a.ID)
}
