package main

// sandboxdc.go is the part of `broadcast sandbox` about data centres and
// logins: --dcs, --file-dc and the QR knobs, what the banner says about
// them, the per-DC counters at the end, and `broadcast sandbox scan`, the
// phone that scans a QR code.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// sandboxClusterOptions reads the DC and QR flags into o.
func sandboxClusterOptions(c *cli.Context, o *sandbox.Options) error {
	if c.NArg() > 0 {
		return usagef("the sandbox's only command is scan: broadcast sandbox scan LINK", "unknown command %q for broadcast sandbox", c.Args().First())
	}
	dcs, fileDC := c.Int("dcs"), c.Int("file-dc")
	switch {
	case dcs < 0 || dcs > 9:
		return usagef("e.g. --dcs 3", "--dcs must be between 1 and 9, got %d", dcs)
	case fileDC != 0 && dcs < 2:
		return usagef("e.g. --dcs 3 --file-dc 2", "--file-dc needs several DCs (--dcs)")
	case fileDC < 0 || fileDC > dcs:
		return usagef("", "--file-dc must be one of DCs 1 to %d, got %d", dcs, fileDC)
	case c.Duration("qr-ttl") < 0 || c.IsSet("qr-ttl") && c.Duration("qr-ttl") < time.Second:
		return usagef("e.g. --qr-ttl 30s", "--qr-ttl must be at least 1s, got %v", c.Duration("qr-ttl"))
	case c.Duration("qr-auto-scan") < 0:
		return usagef("", "--qr-auto-scan must not be negative, got %v", c.Duration("qr-auto-scan"))
	}
	o.DCs, o.FileDC = dcs, fileDC
	o.LoginTokenTTL, o.QRAutoScan, o.QRScanAs = c.Duration("qr-ttl"), c.Duration("qr-auto-scan"), c.String("qr-scan-as")
	return nil
}

// sandboxLoginHelp is the banner's part about DCs and QR login.
func sandboxLoginHelp(srv *sandbox.Server, o sandbox.Options) string {
	var b strings.Builder
	if dcs := srv.DCs(); len(dcs) > 1 {
		fmt.Fprintf(&b, "data centres (server.pem has every one's key; config.yaml names DC %d):\n", dcs[0].ID)
		for _, d := range dcs {
			fmt.Fprintf(&b, "  DC %d on %s\n", d.ID, d.Addr)
		}
		b.WriteString("  accounts live on DC 1 + (last digit of the phone number or bot id) mod " + fmt.Sprint(len(dcs)) + ":\n")
		b.WriteString("  echo 22222 | broadcast login --phone +15550000002   # lives on DC 3: PHONE_MIGRATE_3\n")
		if o.FileDC != 0 {
			fmt.Fprintf(&b, "  uploads are stored on DC %d: --attach on another DC meets FILE_MIGRATE_%d\n", o.FileDC, o.FileDC)
		}
	}
	if o.QRAutoScan > 0 {
		fmt.Fprintf(&b, "QR login: broadcast login --qr   # every code is scanned %s after it is shown, as %s\n", o.QRAutoScan, scanAs(o.QRScanAs))
	} else {
		b.WriteString("QR login: broadcast login --qr, then play the phone that scans it:\n")
		b.WriteString("  broadcast sandbox scan 'tg://login?token=…'   # the link under the code; --as PHONE picks the account\n")
	}
	return b.String()
}

func scanAs(phone string) string {
	if phone == "" {
		return sandbox.DefaultScanner
	}
	return phone
}

// printDCStats adds each DC's calls to the stopped line of a sandbox of
// several DCs.
func printDCStats(g *globals, dcs []sandbox.DCStats) {
	if len(dcs) < 2 {
		return
	}
	for _, d := range dcs {
		names := make([]string, 0, len(d.Calls))
		for m, n := range d.Calls {
			names = append(names, fmt.Sprintf("%s×%d", m, n))
		}
		sort.Strings(names)
		fmt.Fprintf(g.io.err, "sandbox: DC %d: %d bytes uploaded; calls: %s\n", d.ID, d.UploadedBytes, strings.Join(names, ", "))
	}
}

type scanOptions struct {
	as, password, url string
}

func sandboxScanCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "scan",
		Usage:     "play the phone: scan a `broadcast login --qr` code for a running sandbox",
		ArgsUsage: "LINK",
		Description: `Does what Telegram's app does under Settings → Devices → Link Desktop Device:
logs in to the running sandbox as the account (--as, default +15550000000,
with the code 22222) and accepts the QR login token in LINK, the
tg://login?token=… link printed under the code. The login waiting on it then
finishes as that account. Point it at the sandbox as any command: with
BROADCAST_CONFIG set to the config.yaml the sandbox wrote.

Examples:
  broadcast sandbox scan 'tg://login?token=AQID…'
  broadcast sandbox scan --as +15550000002 --password secret 'tg://login?token=AQID…'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "as", Usage: "phone number of the account that scans (and so logs in)", Value: sandbox.DefaultScanner},
			&cli.StringFlag{Name: "password", Usage: "that account's 2FA password, when the sandbox has --password (env BROADCAST_PASSWORD)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("broadcast sandbox scan 'tg://login?token=…'", "scan takes the one link printed under the QR code, got %d arguments", c.NArg())
			}
			g, err := loadGlobals(c, ios)
			if err != nil {
				return err
			}
			return runSandboxScan(c.Context, g, scanOptions{
				as: c.String("as"), password: flagOrEnv(c, "password", "BROADCAST_PASSWORD", ios.getenv), url: c.Args().First(),
			})
		},
	}
}

func runSandboxScan(ctx context.Context, g *globals, o scanOptions) error {
	if g.server == "" {
		return usagef("export BROADCAST_CONFIG=DIR/config.yaml, the config `broadcast sandbox --dir DIR` wrote", "no sandbox to scan for: the configuration names no server")
	}
	dc := g.dc
	if dc == 0 {
		dc = 2 // as for any custom server (telegram.Options.DC)
	}
	u, err := sandbox.ScanRemote(ctx, sandbox.ScanOptions{
		Server: g.server, DC: dc, KeysPEM: g.serverKey, Phone: o.as, Password: o.password,
		TokenURL: strings.TrimSpace(o.url), Timeout: g.timeout, Logger: g.gotdLog,
	})
	if err != nil {
		return scanError(err, g.server)
	}
	if g.json {
		return writeJSON(g.io.out, map[string]any{"scanned_as": map[string]any{"id": u.ID, "phone": u.Phone, "first_name": u.FirstName, "last_name": u.LastName}})
	}
	fmt.Fprintf(g.io.out, "scanned as %s %s (%s, user %d): the QR login goes on as this account\n", u.FirstName, u.LastName, u.Phone, u.ID)
	return nil
}

// scanError words a scan that failed.
func scanError(err error, server string) error {
	switch {
	case errors.Is(err, sandbox.ErrTokenExpired):
		return &usageError{err: err, hint: "scan the code `broadcast login --qr` shows now: each lives about 30 seconds"}
	case errors.Is(err, sandbox.ErrTokenAccepted):
		return &usageError{err: err, hint: "a code logs in once; the login it was shown by has been told"}
	case errors.Is(err, sandbox.ErrTokenUnknown), errors.Is(err, sandbox.ErrBadTokenURL):
		return &usageError{err: err, hint: "copy the whole tg://login?token=… link printed under the newest code, in quotes"}
	case errors.Is(err, sandbox.ErrScanAs):
		return &usageError{err: err, hint: "--as takes a phone number such as +15550000002"}
	case errors.Is(err, sandbox.ErrScanPassword):
		return &usageError{err: err, hint: "give the sandbox's --password with --password or BROADCAST_PASSWORD"}
	case errors.Is(err, sandbox.ErrScanUnreachable):
		return &hinted{err: err, hint: "is `broadcast sandbox` running, and BROADCAST_CONFIG the config.yaml it wrote (" + server + ")?"}
	}
	return err
}
