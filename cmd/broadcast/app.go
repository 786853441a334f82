package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// streams are the process's inputs and outputs, injected so every command
// runs in-process in tests.
type streams struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
	now    func() time.Time
	// inTTY / errTTY: stdin / stderr is a terminal.
	inTTY  bool
	errTTY bool
}

func newStreams(stdin io.Reader, stdout, stderr io.Writer, environ []string) *streams {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return &streams{
		in: stdin, out: stdout, err: stderr,
		getenv: func(k string) string { return env[k] },
		now:    time.Now,
		inTTY:  isTerminal(stdin),
		errTTY: isTerminal(stderr),
	}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run is the whole program: it parses args, runs the command and returns the
// exit code. Nothing below it calls os.Exit.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	io := newStreams(stdin, stdout, stderr, environ)
	app := newApp(ctx, io)
	err := app.RunContext(ctx, args)
	if ctx.Err() != nil && err != nil && !isOutcome(err) {
		// Ctrl-C or SIGTERM while connecting or waiting.
		fmt.Fprintln(stderr, "broadcast: interrupted")
		return exitInterrupted
	}
	return exitCode(err, stderr)
}

func isOutcome(err error) bool {
	var o *outcomeError
	return errors.As(err, &o)
}

// globalFlags are accepted before the command name and, for the output ones,
// after it too (urfave/cli does not inherit flags into subcommands).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "config `FILE` (env BROADCAST_CONFIG; default $XDG_CONFIG_HOME/broadcast/config.yaml)"},
		&cli.StringFlag{Name: "state-dir", Usage: "state `DIR` holding the session, peer cache and journal (env BROADCAST_STATE_DIR; default $XDG_STATE_HOME/broadcast)"},
		&cli.IntFlag{Name: "api-id", Usage: "application api_id from my.telegram.org (env BROADCAST_API_ID)"},
		&cli.StringFlag{Name: "api-hash", Usage: "application api_hash from my.telegram.org (env BROADCAST_API_HASH)"},
		&cli.StringFlag{Name: "server", Usage: "custom MTProto server `HOST:PORT` (env BROADCAST_SERVER)"},
		&cli.StringFlag{Name: "server-key", Usage: "the custom server's RSA public key, PEM `FILE` (env BROADCAST_SERVER_KEY)"},
		&cli.IntFlag{Name: "dc", Usage: "DC id of the custom server (env BROADCAST_DC; default 2)"},
		&cli.BoolFlag{Name: "test-dc", Usage: "use Telegram's test servers (env BROADCAST_TEST_DC)"},
		&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for the server to answer when connecting (env BROADCAST_TIMEOUT)", Value: 30 * time.Second},
		&cli.StringFlag{Name: "proxy", Usage: "connect through a SOCKS5 proxy, socks5://user:pass@host:port, or an MTProxy `URL`, tg://proxy?server=HOST&port=PORT&secret=HEX (env BROADCAST_PROXY)"},
	}
	// Output flags come from outputFlags, added to the app and every command.
}

func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "JSON Lines on stdout instead of text"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors and the summary"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log what happens on stderr"},
	}
}

func newApp(ctx context.Context, io *streams) *cli.App {
	onUsage := func(c *cli.Context, err error, isSub bool) error {
		return &usageError{err: err, hint: fmt.Sprintf("see `%s --help`", c.Command.HelpName)}
	}
	cmds := []*cli.Command{
		sendCommand(io),
		loginCommand(io),
		logoutCommand(io),
		whoamiCommand(io),
		resolveCommand(io),
		listsCommand(io),
		historyCommand(io),
		resumeCommand(io),
		sessionCommand(io),
		sandboxCommand(io),
		demoCommand(io),
		completionCommand(io),
		manCommand(io),
	}
	setupCommands(cmds, onUsage)
	app := &cli.App{
		Name:      "broadcast",
		Usage:     "send one Telegram message to many people at once",
		UsageText: "broadcast [global flags] MESSAGE\nbroadcast [global flags] COMMAND [flags] [args]",
		Description: `Sends MESSAGE to the config's default list, or runs COMMAND.

Examples:
  broadcast "I bought a car!"
  broadcast send --to @alice,@bob --list family "Dinner at 8"
  echo "Deploy done" | broadcast send --json --list team | jq .status
  go run ./cmd/broadcast demo "I bought a car!"   # try it without an account`,
		Flags:                  append(globalFlags(), outputFlags()...),
		Commands:               cmds,
		Reader:                 io.in,
		Writer:                 io.out,
		ErrWriter:              io.err,
		HideHelpCommand:        true,
		UseShortOptionHandling: false,
		// Recipient lists are split on commas by recipient.ParseAll; file
		// names (--attach) must keep theirs.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		// The default handler calls os.Exit; exit codes are decided in run.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsage,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			if err := checkNotACommand(c); err != nil {
				return err
			}
			g, err := loadGlobals(c, io)
			if err != nil {
				return err
			}
			opts, err := sendOptionsFrom(c, g, io)
			if err != nil {
				return err
			}
			return runSend(ctx, g, opts)
		},
	}
	return app
}

// setupCommands gives every command and subcommand the output flags and
// the usage-error hook (urfave/cli does not pass the App's down). HelpName is
// left to urfave/cli: it prefixes the program name itself, so setting it here
// would say "broadcast broadcast send".
func setupCommands(cmds []*cli.Command, onUsage cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.Flags = append(c.Flags, outputFlags()...)
		c.OnUsageError = onUsage
		setupCommands(c.Subcommands, onUsage)
	}
}

// checkNotACommand refuses to broadcast a lone word that looks like a
// mistyped command: `broadcast lsts` must not message everyone "lsts".
func checkNotACommand(c *cli.Context) error {
	if c.NArg() != 1 {
		return nil
	}
	word := c.Args().First()
	if strings.ContainsAny(word, " \t\n") {
		return nil
	}
	for _, cmd := range c.App.Commands {
		if editDistance(strings.ToLower(word), cmd.Name) <= 2 {
			return usagef(fmt.Sprintf("to send the word as a message, run: broadcast send %q", word),
				"unknown command %q; did you mean %q?", word, cmd.Name)
		}
	}
	return nil
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// flagBool reads a bool flag given before or after the command name.
func flagBool(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.Command != nil || cc.App != nil {
			if cc.IsSet(name) {
				return cc.Bool(name)
			}
		}
	}
	return false
}

// newLogger logs to stderr at warn level, debug with -v, never to stdout.
func newLogger(io *streams, verbose, quiet bool) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case verbose:
		level = slog.LevelDebug
	case quiet:
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level}))
}
