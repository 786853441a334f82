package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

func sandboxCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "run a local Telegram-compatible test server",
		Description: `Runs in the foreground until Ctrl-C. Writes DIR/server.pem (its public key),
DIR/config.yaml (a config that points broadcast at it, with a default list of
three friends) and DIR/inbox.jsonl (every message delivered, one JSON a line;
a later deletion or edit adds a line with "event":"deleted" or "edited").
DIR also keeps its key, address, accounts and logins (server.key,
sandbox.json): run it again on the same --dir and logins made against it still
work. An --addr with a port other than 0 moves it.

--dcs 3 runs three data centres, as Telegram has several: accounts live on
different ones (+15550000002 on DC 3), logins are moved there
(PHONE_MIGRATE), and --file-dc sends uploads to another DC (FILE_MIGRATE).
server.pem holds every DC's key; config.yaml names DC 1, the others come
from help.getConfig. For broadcast login --qr, play the phone with
"broadcast sandbox scan LINK" in another shell, or --qr-auto-scan.

It also has groups and channels every account is in: a basic group, a forum
supergroup with topics (one closed), a channel the account may post in and
one it may not, a private supergroup known by t.me/c/ID, and @sandbox_lounge,
in slow mode with --slowmode. Their recipient strings are printed at start.

Examples:
  broadcast sandbox --dir /tmp/sb
  broadcast sandbox --dir /tmp/sb --dcs 3 --file-dc 2 --password secret
  broadcast sandbox --dir /tmp/sb --qr-auto-scan 3s
  broadcast sandbox --dir /tmp/sb --users 500 --latency 50ms --send-rate 50
  broadcast sandbox --dir /tmp/sb --drop 0.2 --ack-before-drop --blocked 2
  broadcast sandbox --dir /tmp/sb --read-after 30s --never-read 3 --edit-limit 1h
  broadcast sandbox --dir /tmp/sb --slowmode 10s`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "address to listen on"},
			&cli.IntFlag{Name: "users", Value: 10, Usage: "number of friends (friend1 … friendN)"},
			&cli.StringFlag{Name: "dir", Usage: "where to write server.pem, config.yaml and inbox.jsonl (default: a new temporary dir)"},
			&cli.StringFlag{Name: "password", Usage: "2FA password that phone logins must give"},
			&cli.DurationFlag{Name: "latency", Usage: "delay added to every RPC"},
			&cli.Float64Flag{Name: "send-rate", Usage: "sends per second per account before FLOOD_WAIT (0: no limit)"},
			&cli.IntFlag{Name: "resolve-limit", Usage: "contacts.resolveUsername calls allowed per account before FLOOD_WAIT (0: no limit)"},
			&cli.Float64Flag{Name: "drop", Usage: "probability that a send's answer is lost (connection dropped after applying it)"},
			&cli.BoolFlag{Name: "ack-before-drop", Usage: "acknowledge a send before losing its answer, so the client cannot resend it by itself"},
			&cli.StringFlag{Name: "blocked", Usage: "friend numbers who blocked the account, e.g. 2,5"},
			&cli.DurationFlag{Name: "edit-limit", Usage: "how long after sending a message can be edited (0: Telegram's, 48h for users and none for bots)"},
			&cli.DurationFlag{Name: "revoke-limit", Usage: "how long after sending a message can be deleted for everyone (0: Telegram's, none for users and 48h for bots)"},
			&cli.DurationFlag{Name: "read-after", Usage: "how long friends take to read a message (0: they never read)"},
			&cli.StringFlag{Name: "never-read", Usage: "friend numbers who never read their messages, e.g. 2,5"},
			&cli.DurationFlag{Name: "slowmode", Usage: "slow mode in @sandbox_lounge: each member may send one message every `D` there (0: off)"},
			// Several DCs and QR login (sandboxdc.go).
			&cli.IntFlag{Name: "dcs", Usage: "number of data centres, numbered 1 to N", DefaultText: "1, or as many as --dir was started with"},
			&cli.IntFlag{Name: "file-dc", Usage: "with --dcs, the DC that stores uploads: parts sent to another are answered FILE_MIGRATE", DefaultText: "none"},
			&cli.DurationFlag{Name: "qr-ttl", Usage: "how long a QR login token lives", DefaultText: "30s, as Telegram's"},
			&cli.DurationFlag{Name: "qr-auto-scan", Usage: "play the phone: accept every QR login token this long after it is shown", DefaultText: "off"},
			&cli.StringFlag{Name: "qr-scan-as", Usage: "the account --qr-auto-scan logs in as", DefaultText: "+15550000000"},
		},
		Subcommands:     []*cli.Command{sandboxScanCommand(ios)},
		HideHelpCommand: true, // as session's: help is --help
		Action: func(c *cli.Context) error {
			g := &globals{io: ios, json: flagBool(c, "json"), quiet: flagBool(c, "quiet"), verbose: flagBool(c, "verbose")}
			g.log = newLogger(ios, g.verbose, g.quiet)
			o, err := sandboxOptionsFrom(c)
			if err != nil {
				return err
			}
			o.server.Logger = g.log
			return runSandbox(c.Context, g, o)
		},
	}
}

// sandboxOptions is `broadcast sandbox`: where, and the server's knobs.
type sandboxOptions struct {
	dir    string
	server sandbox.Options
}

func sandboxOptionsFrom(c *cli.Context) (sandboxOptions, error) {
	blocked, err := parseInts(c.String("blocked"))
	if err != nil {
		return sandboxOptions{}, usagef("e.g. --blocked 2,5", "--blocked: %v", err)
	}
	neverRead, err := parseInts(c.String("never-read"))
	if err != nil {
		return sandboxOptions{}, usagef("e.g. --never-read 2,5", "--never-read: %v", err)
	}
	for _, name := range []string{"edit-limit", "revoke-limit", "read-after", "slowmode"} {
		if d := c.Duration(name); d < 0 {
			return sandboxOptions{}, usagef("", "--%s must not be negative, got %v", name, d)
		}
	}
	if p := c.Float64("drop"); p < 0 || p > 1 {
		return sandboxOptions{}, usagef("", "--drop must be a probability between 0 and 1, got %v", p)
	}
	if c.Int("users") < 1 {
		return sandboxOptions{}, usagef("", "--users must be at least 1")
	}
	o := sandboxOptions{dir: c.String("dir"), server: sandbox.Options{
		Addr:          c.String("addr"),
		Users:         c.Int("users"),
		Password:      c.String("password"),
		Latency:       c.Duration("latency"),
		SendRate:      c.Float64("send-rate"),
		ResolveLimit:  c.Int("resolve-limit"),
		DropAnswer:    c.Float64("drop"),
		AckBeforeDrop: c.Bool("ack-before-drop"),
		Blocked:       blocked,
		EditLimit:     c.Duration("edit-limit"),
		RevokeLimit:   c.Duration("revoke-limit"),
		ReadAfter:     c.Duration("read-after"),
		NeverRead:     neverRead,
		SlowMode:      c.Duration("slowmode"),
	}}
	return o, sandboxClusterOptions(c, &o.server)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func runSandbox(ctx context.Context, g *globals, o sandboxOptions) error {
	dir, opts := o.dir, o.server
	if dir == "" {
		d, err := os.MkdirTemp("", "broadcast-sandbox-")
		if err != nil {
			return err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &hinted{err: fmt.Errorf("sandbox dir: %w", err), hint: "choose a writable --dir"}
	}
	// The sandbox keeps its key, address, logins and inbox.jsonl in dir.
	opts.StateDir = dir
	srv, err := sandbox.Start(opts)
	if err != nil {
		return &hinted{err: fmt.Errorf("sandbox: %w", err), hint: sandboxStartHint(err)}
	}
	defer srv.Close()
	files, err := srv.WriteConfig(dir)
	if err != nil {
		return &hinted{err: fmt.Errorf("sandbox dir: %w", err), hint: "choose a writable --dir"}
	}
	if g.json {
		if err := writeJSON(g.io.out, map[string]any{"addr": srv.Addr(), "dc": srv.DC(), "users": len(srv.Friends()),
			"key_file": files.Key, "config": files.Config, "inbox_log": srv.InboxPath(), "bot_token": sandbox.BotToken,
			"login_code": sandbox.LoginCode, "resumed": srv.Resumed(), "dcs": srv.DCs(), "chats": srv.Chats()}); err != nil {
			return err
		}
	} else {
		resumed := ""
		if srv.Resumed() {
			resumed = "\n  resumed: the previous run's key, address, accounts and logins from " + dir
		}
		fmt.Fprintf(g.io.out, `sandbox: MTProto server on %s (DC %d) with %d friends, @friend1 … @friend%d%s
  key:     %s
  config:  %s
  inboxes: %s
%stry it in another shell:
  export BROADCAST_CONFIG=%s BROADCAST_STATE_DIR=%s
  broadcast login --bot-token %s     # or: echo %s | broadcast login --phone +15550000000
  broadcast "I bought a car!"
%sCtrl-C stops the server.
`, srv.Addr(), srv.DC(), len(srv.Friends()), len(srv.Friends()), resumed, files.Key, files.Config, srv.InboxPath(), sandboxChats(srv),
			files.Config, filepath.Join(dir, "state"), sandbox.BotToken, sandbox.LoginCode, sandboxLoginHelp(srv, opts))
	}
	<-ctx.Done()
	stats, dcStats := srv.Stats(), srv.DCStats()
	if err := srv.Close(); err != nil {
		return err
	}
	if !g.quiet {
		fmt.Fprintf(g.io.err, "sandbox: stopped; %d messages delivered, %d bytes uploaded, %d flood waits, %d answers dropped, %d deleted, %d edited\n",
			stats.Delivered, stats.UploadedBytes, stats.FloodWaits, stats.DroppedAnswers, stats.Deleted, stats.Edited)
		printDCStats(g, dcStats)
	}
	// Stopping on Ctrl-C is this command's normal end.
	return nil
}

// sandboxStartHint says what to do when the sandbox cannot start.
func sandboxStartHint(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, sandbox.ErrDCCount):
		return "give the --dcs it was started with, or use another --dir"
	case errors.Is(err, sandbox.ErrSavedAddr):
		return "is another sandbox running on this --dir? stop it, or pass --addr to move this one (config.yaml follows)"
	case errors.As(err, &op) && op.Op == "listen":
		return "pick another --addr, or 127.0.0.1:0 for any free port"
	default:
		return "choose a writable --dir, or an empty one to start afresh"
	}
}
