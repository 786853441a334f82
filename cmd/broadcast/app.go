package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

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

// reportWriter is stdout. A failed write (a closed pipe, a full disk) must
// not stop a broadcast half way: the first error is kept, later writes are
// dropped, and run turns it into exit 1 once the work is done.
type reportWriter struct {
	w   io.Writer
	err error
}

func (r *reportWriter) Write(p []byte) (int, error) {
	if r.err != nil {
		return len(p), nil
	}
	if _, err := r.w.Write(p); err != nil {
		r.err = err
	}
	return len(p), nil
}

func newStreams(stdin io.Reader, stdout, stderr io.Writer, environ []string) *streams {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return &streams{
		in: stdin, out: &reportWriter{w: stdout}, err: stderr,
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
	ios := newStreams(stdin, stdout, stderr, environ)
	if n := len(args); n > 1 && args[n-1] == completionFlag {
		if words, ok := completeValues(ios, args[1:n-1]); ok {
			for _, w := range words {
				fmt.Fprintln(ios.out, w)
			}
			return exitOK
		}
	}
	app := newApp(ctx, ios)
	err := app.RunContext(ctx, args)
	code := exitInterrupted
	switch {
	case ctx.Err() != nil && err != nil && !isOutcome(err):
		// A signal while connecting, reading input or waiting. (A
		// command that ends cleanly on a signal, like the sandbox server,
		// returns nil and exits 0.)
		fmt.Fprintf(stderr, "broadcast: %v\n", context.Cause(ctx))
	case ctx.Err() != nil && err != nil:
		exitCode(err, stderr) // the outcome's lines; any signal exits 130
	default:
		code = exitCode(err, stderr)
	}
	if werr := ios.out.(*reportWriter).err; werr != nil {
		fmt.Fprintf(stderr, "broadcast: error: could not write the report to stdout: %v\n", werr)
		fmt.Fprintln(stderr, "broadcast: hint: the work itself was done; `broadcast history` shows every outcome")
		if code == exitOK {
			code = exitFailure
		}
	}
	return code
}

func isOutcome(err error) bool {
	var o *outcomeError
	return errors.As(err, &o)
}

func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "JSON Lines on stdout instead of text"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors and the summary"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log the tool's own decisions on stderr: connecting, resuming, skipping"},
		&cli.BoolFlag{Name: "vv", Usage: "as -v, and gotd's debug log of the protocol too"},
	}
}

func newApp(ctx context.Context, ios *streams) *cli.App {
	onUsage := func(c *cli.Context, err error, isSub bool) error {
		return flagUsageError(c, err)
	}
	cmds := commands(ios)
	setupCommands(cmds, onUsage)
	return &cli.App{
		Name:                   "broadcast",
		Usage:                  "send one Telegram message to many people at once",
		UsageText:              "broadcast [global flags] MESSAGE\nbroadcast [global flags] COMMAND [flags] [args]",
		Description:            appDescription(),
		Flags:                  append(append(globalFlags(), outputFlags()...), &cli.BoolFlag{Name: "version", Usage: "print the version"}),
		Commands:               cmds,
		Reader:                 ios.in,
		Writer:                 ios.out,
		ErrWriter:              ios.err,
		HideHelpCommand:        true,
		UseShortOptionHandling: false,
		// Recipient lists are split on commas by recipient.ParseAll; file
		// names (--attach) must keep theirs.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		// The default handler calls os.Exit; exit codes are decided in run.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsage,
		Action:         func(c *cli.Context) error { return runRoot(ctx, c, ios) },
	}
}

func commands(ios *streams) []*cli.Command {
	return []*cli.Command{
		sendCommand(ios),
		loginCommand(ios),
		logoutCommand(ios),
		whoamiCommand(ios),
		resolveCommand(ios),
		chatsCommand(ios),
		listsCommand(ios),
		historyCommand(ios),
		resumeCommand(ios),
		retractCommand(ios),
		editCommand(ios),
		sessionCommand(ios),
		sandboxCommand(ios),
		demoCommand(ios),
		completionCommand(ios),
		manCommand(ios),
	}
}

// runRoot is `broadcast [--version | help [COMMAND] | MESSAGE]`: the
// shorthand for send, which never fires on something that looks like a
// command.
func runRoot(ctx context.Context, c *cli.Context, ios *streams) error {
	switch {
	case c.Bool("version"):
		_, err := fmt.Fprintf(ios.out, "broadcast %s\n", version())
		return err
	case c.NArg() == 0:
		return cli.ShowAppHelp(c)
	case c.Args().First() == "help":
		return showHelp(c)
	}
	if err := checkNotACommand(c); err != nil {
		return err
	}
	return sendAction(ctx, c, ios)
}

// appDescription is the top of --help and of the man page: examples, the
// exit codes and the environment, from the same table as the flags.
func appDescription() string {
	var envs []string
	for _, o := range globalOptions {
		envs = append(envs, o.env)
	}
	return `Sends MESSAGE to the config's default list, or runs COMMAND.

Examples:
  broadcast "I bought a car!"
  broadcast send --to @alice,@bob --list family "Dinner at 8"
  echo "Deploy done" | broadcast send --json --list team | jq .status
  go run ./cmd/broadcast demo "I bought a car!"   # try it without an account

Exit codes:
  0    every recipient has the message (sent now or earlier)
  1    operational failure: network, server, state dir, internal
  2    usage or input error; nothing was sent
  3    partial: at least one recipient failed, the others were delivered
  4    not logged in, or the session was revoked: run broadcast login
  130  interrupted by a signal; the journal is kept, broadcast resume finishes

Environment:
  ` + strings.Join(envs, ", ") + `:
      the global flags of the same name
  BROADCAST_PHONE, BROADCAST_BOT_TOKEN, BROADCAST_PASSWORD: for login
  XDG_CONFIG_HOME, XDG_STATE_HOME: where the config and state live by default
  NO_COLOR: a progress bar without colour`
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

// checkNotACommand keeps the shorthand `broadcast MESSAGE` from firing on
// anything that looks like a command: a typo must never become a broadcast.
// `help` is help, and a single bare word (letters, digits, -) is refused,
// with "did you mean" for a near miss of a command.
func checkNotACommand(c *cli.Context) error {
	word := c.Args().First()
	if c.NArg() != 1 || !bareWord(word) {
		return nil
	}
	hint := fmt.Sprintf("to send one word, use: broadcast send %s", word)
	var names []string
	for _, cmd := range c.App.Commands {
		if !cmd.Hidden {
			names = append(names, cmd.Name)
		}
	}
	if best := nearest(strings.ToLower(word), names); best != "" {
		return usagef(hint, "unknown command %q; did you mean %q?", word, best)
	}
	return usagef(hint+"\n`broadcast --help` lists the commands", "%q is not a command, and a single word is not sent without `send`", word)
}

// flagUsageError rewords the flag package's errors: it names an unknown
// flag with the dashes the user typed, suggests the nearest real one, and
// explains that a message starting with "-" goes after "--".
func flagUsageError(c *cli.Context, err error) error {
	help := "broadcast"
	if c.Command != nil && c.Command.HelpName != "" {
		help = c.Command.HelpName
	}
	hint := fmt.Sprintf("see `%s --help`", help)
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return &usageError{err: err, hint: hint}
	}
	if strings.ContainsAny(name, " \t\n") || (name != "" && !unicode.IsLetter(rune(name[0])) && name[0] != '-') {
		what := "a message that starts with -"
		if strings.Trim(name, "0123456789") == "" {
			what = "a group's id (negative)" // resolve -1001
		}
		return usagef(fmt.Sprintf("%s goes after --: %s -- %q", what, help, "-"+name),
			"%q looks like a flag", "-"+name)
	}
	name = strings.TrimPrefix(name, "-")
	var flags []cli.Flag
	if c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	}
	if len(flags) == 0 {
		flags = c.App.Flags
	}
	var names []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) > 1 { // -q, -v are not what a typo of --quiet meant
				names = append(names, n)
			}
		}
	}
	if best := nearest(name, names); best != "" {
		hint = fmt.Sprintf("did you mean --%s? %s", best, hint)
	}
	return usagef(hint, "unknown flag --%s", name)
}

// version is the module version, or the VCS revision the binary was built
// from (with "+dirty" for uncommitted changes), or "devel".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel " + rev[:min(12, len(rev))] + dirty
}

// showHelp is `broadcast help [COMMAND]`.
func showHelp(c *cli.Context) error {
	name := c.Args().Get(1)
	if name == "" {
		return cli.ShowAppHelp(c)
	}
	if c.App.Command(name) == nil {
		return usagef("`broadcast --help` lists the commands", "no command %q", name)
	}
	return cli.ShowCommandHelp(c, name)
}

// bareWord: letters, digits and dashes only, the shape of a command name.
func bareWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
			return false
		}
	}
	return true
}

// nearest is the candidate within two edits of word, the closest first
// found, or "": the "did you mean" of commands and flags.
func nearest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
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
	if cc := setAt(c, name); cc != nil {
		return cc.Bool(name)
	}
	return false
}

// gotdLogger is gotd's log: silent unless -vv, because its warnings (a
// reconnect, a retry) are the tool's business to report in its own words.
func gotdLogger(ios *streams, vv bool) *slog.Logger {
	if !vv {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(ios.err, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newLogger logs to stderr at warn level, debug with -v, never to stdout.
func newLogger(ios *streams, verbose, quiet bool) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case verbose:
		level = slog.LevelDebug
	case quiet:
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(ios.err, &slog.HandlerOptions{Level: level}))
}
