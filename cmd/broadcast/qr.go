package main

// qr.go is `broadcast login --qr`'s terminal side: drawing each login token
// as a QR code of Unicode half blocks, with its link to copy, on stderr
// (the code is a prompt, not a result), and asking for the 2FA password.
//
// The code comes from rsc.io/qr: already in the build through gotd's
// qrlogin (its Token.Image uses it), small, stable, and it exposes the
// module matrix (Code.Black), which is all half blocks need. mdp/qrterminal
// is itself a renderer over rsc.io/qr, and skip2/go-qrcode would be a
// second encoder for the same job.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// qrQuiet is the quiet zone around a code, in modules: the 4 the QR
// standard asks for, so a phone finds the code on any background.
const qrQuiet = 4

// renderQR draws text as a QR code, two modules a character with Unicode
// half blocks (▀ ▄ █). With color, dark modules are black on white
// whatever the terminal's theme (SGR 30;47); without (NO_COLOR, not a
// terminal), light modules are drawn as blocks, which reads right on the
// dark background most terminals have.
func renderQR(text string, color bool) (string, error) {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return "", err
	}
	n := code.Size + 2*qrQuiet
	dark := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		return x >= 0 && y >= 0 && x < code.Size && y < code.Size && code.Black(x, y)
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		if color {
			b.WriteString("\x1b[30;47m")
		}
		for x := 0; x < n; x++ {
			top, bottom := dark(x, y), y+1 < n && dark(x, y+1)
			if !color {
				// Blocks are the light modules here.
				top, bottom = !top, y+1 < n && !bottom
			}
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		if color {
			b.WriteString("\x1b[0m")
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// qrPrompter shows QR codes on stderr and asks for the 2FA password like a
// phone login (prompter.Password).
type qrPrompter struct {
	g     *globals
	pw    *prompter
	drawn int // lines of the last code drawn on a terminal, to redraw in place
}

func newQRPrompter(g *globals, pw *prompter) *qrPrompter { return &qrPrompter{g: g, pw: pw} }

// ShowQR draws a code and its link. On a terminal a new code replaces the
// last one in place (cursor up, clear down), so a long wait does not
// scroll; elsewhere each is printed in turn.
func (p *qrPrompter) ShowQR(_ context.Context, c telegram.QRCode) error {
	w := p.g.io.err
	color := p.g.io.errTTY && p.g.io.getenv("NO_COLOR") == "" && p.g.io.getenv("TERM") != "dumb"
	art, err := renderQR(c.URL, color)
	if err != nil {
		return fmt.Errorf("draw the QR code: %w", err)
	}
	first := p.drawn == 0
	if p.g.io.errTTY && !first {
		fmt.Fprintf(w, "\x1b[%dA\x1b[J", p.drawn)
	}
	var b strings.Builder
	if first || p.g.io.errTTY {
		b.WriteString("Scan this code with the Telegram app on your phone: Settings → Devices → Link Desktop Device.\n")
	} else {
		b.WriteString("The code expired; here is a new one.\n")
	}
	b.WriteString(art)
	fmt.Fprintf(&b, "Or open this link on a device where you are logged in: %s\n", c.URL)
	fmt.Fprintf(&b, "The code is valid until %s and is renewed until it is scanned; Ctrl-C to give up.\n", expiry(c.Expires, p.g.io.now()))
	_, err = io.WriteString(w, b.String())
	p.drawn = strings.Count(b.String(), "\n")
	return err
}

// expiry is when a code expires, as a time of day with its distance.
func expiry(at, now time.Time) string {
	return fmt.Sprintf("%s (%s)", at.Local().Format("15:04:05"), fmtDuration(at.Sub(now).Round(time.Second)))
}

func (p *qrPrompter) Password(ctx context.Context) (string, error) {
	fmt.Fprintln(p.g.io.err, "The code was scanned; this account has a 2FA password.")
	return p.pw.Password(ctx)
}
