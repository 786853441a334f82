package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

func demoCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "try broadcast without a Telegram account: a local sandbox, a login, a broadcast to three friends",
		ArgsUsage: "[MESSAGE]",
		Description: `Starts the sandbox in this process with a temporary state dir, logs in by phone
(code 22222), sends MESSAGE to three sandbox friends through the same code as
"broadcast send", and shows what each friend received.

Examples:
  go run ./cmd/broadcast demo "I bought a car!"`,
		Action: func(c *cli.Context) error {
			msg := "I bought a car!"
			if c.NArg() > 1 {
				return usagef("quote the message", "expected one MESSAGE argument, got %d", c.NArg())
			}
			if c.NArg() == 1 {
				msg = c.Args().First()
			}
			return runDemo(c.Context, ios, demoOptions{text: msg, json: flagBool(c, "json"), verbose: flagBool(c, "verbose")})
		},
	}
}

// demoOptions is `broadcast demo [MESSAGE]`.
type demoOptions struct {
	text          string
	json, verbose bool
}

// runDemo starts an in-process sandbox, logs in, sends through the same
// code as `broadcast send` and shows what each friend received.
func runDemo(ctx context.Context, ios *streams, o demoOptions) error {
	text, asJSON, verbose := o.text, o.json, o.verbose
	tmp, err := os.MkdirTemp("", "broadcast-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	log := newLogger(ios, verbose, false)
	srv, err := sandbox.Start(sandbox.Options{Users: 5, Logger: log})
	if err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	defer srv.Close()
	g := sandboxGlobals(ios, srv, filepath.Join(tmp, "state"))
	g.json, g.verbose, g.log = asJSON, verbose, log

	if !asJSON {
		fmt.Fprintf(ios.out, "sandbox: a local Telegram-compatible server on %s with friends @friend1 … @friend5\n", srv.Addr())
	}
	if err := demoLogin(ctx, g); err != nil {
		return err
	}
	friends := []string{"@friend1", "@friend2", "@friend3"}
	if !asJSON {
		fmt.Fprintf(ios.out, "\nsending %q to %s:\n", text, strings.Join(friends, ", "))
	}
	sendErr := runSend(ctx, g, sendOptions{
		message: text, hasMessage: true, to: friends, parseMode: "plain",
		concurrency: defaultConcurrency, rateSet: true,
	})
	if sendErr != nil && !isOutcome(sendErr) {
		return sendErr
	}
	if err := showInboxes(ios, srv, friends, asJSON); err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintln(ios.out, "\nnext: `broadcast sandbox --dir /tmp/sb` runs this server for you to use, and README.md shows real Telegram.")
	}
	return sendErr
}

// showInboxes prints what each friend received.
func showInboxes(ios *streams, srv *sandbox.Server, friends []string, asJSON bool) error {
	if !asJSON {
		fmt.Fprintln(ios.out, "\nwhat each friend received:")
	}
	for _, f := range friends {
		u, _ := srv.Lookup(f)
		in := srv.Inbox(f)
		if asJSON {
			if err := writeJSON(ios.out, map[string]any{"inbox": f, "first_name": u.FirstName, "messages": in}); err != nil {
				return err
			}
			continue
		}
		if len(in) == 0 {
			fmt.Fprintf(ios.out, "  %s (%s): nothing\n", f, u.FirstName)
		}
		for _, m := range in {
			fmt.Fprintf(ios.out, "  %s (%s): %q  [message %d, random_id %d]\n", f, u.FirstName, m.Text, m.ID, m.RandomID)
		}
	}
	return nil
}

// sandboxGlobals are the globals a config written by `broadcast sandbox`
// would give: the demo's, built without a file.
func sandboxGlobals(ios *streams, srv *sandbox.Server, stateDir string) *globals {
	return &globals{
		io:            ios,
		cfg:           &config.Config{Lists: map[string][]string{}},
		stateDir:      stateDir,
		apiID:         sandbox.AppID,
		apiHash:       sandbox.AppHash,
		server:        srv.Addr(),
		serverKey:     srv.PublicKeyPEM(),
		dc:            srv.DC(),
		timeout:       telegram.DefaultConnectTimeout,
		reconnectWait: telegram.DefaultReconnectWait,
		log:           newLogger(ios, false, false),
	}
}

// demoLogin logs in by phone with the sandbox's code, as a person would.
func demoLogin(ctx context.Context, g *globals) error {
	a, err := loginWith(ctx, g, func(ctx context.Context, c *telegram.Client) (store.Account, error) {
		return c.LoginPhone(ctx, "+15550000000", fixedPrompter{code: sandbox.LoginCode})
	})
	if err != nil || g.json {
		return err
	}
	return printAccount(g, a, "logged in by phone (code "+sandbox.LoginCode+") as")
}

type fixedPrompter struct{ code string }

func (p fixedPrompter) Code(context.Context) (string, error) { return p.code, nil }
func (p fixedPrompter) Password(context.Context) (string, error) {
	return "", errors.New("the demo account has no 2FA password")
}

var _ telegram.Prompter = fixedPrompter{}
