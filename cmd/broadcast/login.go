package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

type loginOptions struct {
	phone    string
	botToken string
	qr       bool
}

func loginCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:  "login",
		Usage: "log in with a phone number, a bot token or a QR code",
		Description: `The login code is read from the terminal, or from one line of stdin when stdin
is not a terminal. A 2FA password comes from BROADCAST_PASSWORD or a prompt
that does not echo.

With --qr, a QR code is drawn on stderr with its tg://login link: scan it in
the Telegram app on your phone (Settings → Devices → Link Desktop Device).
It is renewed every 30 seconds or so until it is scanned; Ctrl-C gives up
and leaves the state dir as it was.

The session is kept on the account's own data centre (Telegram may move the
login there: PHONE_MIGRATE, USER_MIGRATE), so later runs connect straight to
it; whoami shows which.

Examples:
  broadcast login --phone +15551234567
  broadcast login --bot-token "$BOT_TOKEN"
  broadcast login --qr
  echo 22222 | BROADCAST_PASSWORD=secret broadcast login --phone +15550000000`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "phone", Usage: "log in as the user with this phone number (env BROADCAST_PHONE)"},
			&cli.StringFlag{Name: "bot-token", Usage: "log in as a bot with this token from @BotFather (env BROADCAST_BOT_TOKEN)"},
			&cli.BoolFlag{Name: "qr", Usage: "log in by scanning a QR code with the Telegram app on your phone"},
		},
		Action: func(c *cli.Context) error {
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			o := loginOptions{
				phone:    flagOrEnv(c, "phone", "BROADCAST_PHONE", ios.getenv),
				botToken: flagOrEnv(c, "bot-token", "BROADCAST_BOT_TOKEN", ios.getenv),
				qr:       c.Bool("qr"),
			}
			if o.qr {
				if c.IsSet("phone") || c.IsSet("bot-token") {
					return usagef("use one of --phone, --bot-token or --qr", "--qr does not go with --phone or --bot-token")
				}
				// --qr on the command line outranks a number or token in the
				// environment.
				o.phone, o.botToken = "", ""
			}
			if c.NArg() > 0 {
				return usagef("use --phone or --bot-token", "login takes no arguments")
			}
			return runLogin(c.Context, g, o)
		},
	}
}

func runLogin(ctx context.Context, g *globals, o loginOptions) error {
	if o.phone != "" && o.botToken != "" {
		return usagef("", "give --phone or --bot-token, not both")
	}
	lines := bufio.NewReader(g.io.in)
	if o.qr {
		return runQRLogin(ctx, g, &prompter{g: g, lines: lines})
	}
	if o.phone == "" && o.botToken == "" {
		if !g.io.inTTY {
			return usagef("pass --phone +15551234567 or --bot-token TOKEN (BROADCAST_PHONE, BROADCAST_BOT_TOKEN)", "no phone number or bot token")
		}
		fmt.Fprint(g.io.err, "Phone number (international format, e.g. +15551234567): ")
		p, err := lines.ReadString('\n')
		if err != nil && p == "" {
			return fmt.Errorf("read phone number: %w", err)
		}
		o.phone = strings.TrimSpace(p)
	}
	acct, dc, err := login(ctx, g, false, func(ctx context.Context, c *telegram.Client) (store.Account, error) {
		if o.botToken != "" {
			return c.LoginBot(ctx, o.botToken)
		}
		return c.LoginPhone(ctx, o.phone, &prompter{g: g, lines: lines})
	})
	if err != nil {
		return err
	}
	return printAccountOn(g, acct, dc, "logged in as")
}

// runQRLogin logs in by QR code: the codes go to stderr, stdout gets who
// logged in, as with the other ways.
func runQRLogin(ctx context.Context, g *globals, pw *prompter) error {
	acct, dc, err := login(ctx, g, true, func(ctx context.Context, c *telegram.Client) (store.Account, error) {
		return c.LoginQR(ctx, newQRPrompter(g, pw))
	})
	if err != nil {
		return err
	}
	return printAccountOn(g, acct, dc, "logged in as")
}

// loginWith opens the state, connects, and runs one login flow, which
// saves the session and the account: shared by `login` and the demo.
func loginWith(ctx context.Context, g *globals, flow func(context.Context, *telegram.Client) (store.Account, error)) (store.Account, error) {
	acct, _, err := login(ctx, g, false, flow)
	return acct, err
}

// login is loginWith for a QR login too (qr: a client that hears
// updateLoginToken, from a new auth key), and says which DC the session
// ended on. A failed or interrupted login leaves the state dir as it was
// (telegram.Client.Login).
func login(ctx context.Context, g *globals, qr bool, flow func(context.Context, *telegram.Client) (store.Account, error)) (store.Account, int, error) {
	st, err := g.openStore()
	if err != nil {
		return store.Account{}, 0, err
	}
	defer st.Close()
	opts := g.clientOptions()
	opts.Store, opts.QRLogin = st, qr
	client, err := telegram.New(opts)
	if err != nil {
		return store.Account{}, 0, err
	}
	acct, err := client.Login(ctx, qr, func(ctx context.Context) (store.Account, error) { return flow(ctx, client) })
	if err != nil {
		return store.Account{}, 0, err
	}
	dc, _ := telegram.SessionDC(st) // 0, left out of the report, if it cannot be read
	return acct, dc, nil
}

// prompter asks for the login code and 2FA password.
type prompter struct {
	g     *globals
	lines *bufio.Reader
}

func (p *prompter) Code(context.Context) (string, error) {
	if p.g.io.inTTY {
		fmt.Fprint(p.g.io.err, "Login code (sent to your Telegram app): ")
	}
	code, err := p.lines.ReadString('\n')
	code = strings.TrimSpace(code)
	if code == "" {
		if err != nil {
			return "", usagef("pipe the code in, e.g. echo 12345 | broadcast login --phone ...", "no login code on stdin")
		}
		return "", usagef("", "empty login code")
	}
	return code, nil
}

// loginCodeTries is how many codes a person at a terminal may type.
const loginCodeTries = 3

// CodeTries: three at a terminal, where a code is typed by hand; one from a
// pipe, where a wrong code will not become right by asking again.
func (p *prompter) CodeTries() int {
	if p.g.io.inTTY {
		return loginCodeTries
	}
	return 1
}

func (p *prompter) BadCode(left int) {
	fmt.Fprintf(p.g.io.err, "broadcast: that code is not valid; try again (%d %s left)\n", left, plural(left, "try", "tries"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (p *prompter) Password(context.Context) (string, error) {
	if pw := p.g.io.getenv("BROADCAST_PASSWORD"); pw != "" {
		return pw, nil
	}
	f, ok := p.g.io.in.(*os.File)
	if !ok || !p.g.io.inTTY {
		return "", usagef("set BROADCAST_PASSWORD", "this account has a 2FA password and stdin is not a terminal")
	}
	fmt.Fprint(p.g.io.err, "2FA password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(p.g.io.err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

func printAccount(g *globals, a store.Account, prefix string) error {
	return printAccountOn(g, a, 0, prefix)
}

// printAccountOn is printAccount naming the DC the session lives on, when
// dc is known (> 0).
func printAccountOn(g *globals, a store.Account, dc int, prefix string) error {
	if g.json {
		m := map[string]any{
			"id": a.ID, "bot": a.Bot, "username": a.Username, "first_name": a.FirstName,
			"last_name": a.LastName, "phone": a.Phone, "server": a.Server,
		}
		if dc > 0 {
			m["dc"] = dc
		}
		return writeJSON(g.io.out, m)
	}
	name := strings.TrimSpace(a.FirstName + " " + a.LastName)
	if a.Username != "" {
		name += " (@" + a.Username + ")"
	}
	kind := "user"
	if a.Bot {
		kind = "bot"
	}
	if prefix != "" {
		prefix += " "
	}
	where := a.Server
	if dc > 0 {
		where += fmt.Sprintf(" (DC %d)", dc)
	}
	fmt.Fprintf(g.io.out, "%s%s, %s %d on %s\n", prefix, name, kind, a.ID, where)
	return nil
}
