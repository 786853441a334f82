package main

// qr_test.go: `broadcast login --qr` end to end against the sandbox, with
// the phone played by `broadcast sandbox scan` (a real MTProto client) or
// the sandbox's Scan: with and without 2FA, across DCs, with a token that
// expires, on a terminal, and interrupted.

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"rsc.io/qr"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// qrLogin is a running `broadcast login --qr`: what it printed, and each
// link it showed, in order.
type qrLogin struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	links  chan string
}

var linkRe = regexp.MustCompile(`tg://login\?token=[A-Za-z0-9_=-]+`)

// startQR starts `broadcast login --qr` with stderr on a pipe.
func (e *e2e) startQR(t *testing.T, args ...string) *qrLogin {
	t.Helper()
	q := &qrLogin{cmd: e.cmd(append([]string{"login", "--qr"}, args...)...), links: make(chan string, 16)}
	q.cmd.Stdout = &q.stdout
	pipe, err := q.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			q.stderr.Write(append(sc.Bytes(), '\n'))
			if l := linkRe.FindString(sc.Text()); l != "" {
				q.links <- l
			}
		}
		close(q.links)
	}()
	return q
}

// link waits for the next link shown.
func (q *qrLogin) link(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-q.links:
		if !ok {
			t.Fatalf("login --qr ended without a code:\n%s", q.stderr.String())
		}
		return l
	case <-time.After(promptWait):
		t.Fatalf("no code within %s:\n%s", promptWait, q.stderr.String())
	}
	return ""
}

// wait waits for the login to exit and returns its exit code.
func (q *qrLogin) wait(t *testing.T) int {
	t.Helper()
	code, _ := exitOf(t, q.cmd)
	return code
}

// A QR login with 2FA, scanned by an account that lives on DC 3 with
// `broadcast sandbox scan`: the client follows loginTokenMigrateTo to DC 3,
// imports the token there, is asked the password (BROADCAST_PASSWORD), and
// exits 0 logged in on DC 3; the next run talks to DC 3 only.
func TestQRLoginWith2FAAcrossDCs(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3, Password: "pw"})
	e.env = append(e.env, "BROADCAST_PASSWORD=pw")
	q := e.startQR(t)
	link := q.link(t)
	// The phone has 2FA too: without the password it cannot scan.
	nopw := &e2e{t: t, srv: e.srv, dir: e.dir, env: append(append([]string(nil), e.env...), "BROADCAST_PASSWORD=")}
	out, code := nopw.run("sandbox", "scan", "--as", "+15550000012", link)
	if code != 2 || !strings.Contains(out, "error: the scanning account's 2FA password is missing or wrong") {
		t.Errorf("scan without the password: exit %d\n%s", code, out)
	}
	scan := e.must("", "sandbox", "scan", "--as", "+15550000012", link)
	if !strings.Contains(scan, "scanned as Me Sandbox (+15550000012") {
		t.Errorf("scan: %s", scan)
	}
	if code := q.wait(t); code != 0 {
		t.Fatalf("login --qr: exit %d\n%s%s", code, q.stdout.String(), q.stderr.String())
	}
	if out := q.stdout.String(); !strings.HasPrefix(out, "logged in as Me Sandbox, user ") || !strings.Contains(out, "(DC 3)") {
		t.Errorf("stdout: %q", out)
	}
	for _, s := range []string{"Settings → Devices → Link Desktop Device", "2FA password", "▄"} {
		if !strings.Contains(q.stderr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, q.stderr.String())
		}
	}
	if strings.Contains(q.stdout.String()+q.stderr.String(), "pw\n") {
		t.Error("the password was printed")
	}
	// Three passwords checked on DC 3: the phone's own logins (sandbox
	// scan, the first without it) and the QR login's.
	if e.srv.CallsOn(1, "auth.exportLoginToken") < 2 || e.srv.CallsOn(3, "auth.importLoginToken") != 1 || e.srv.CallsOn(3, "auth.checkPassword") != 3 || e.srv.CallsOn(1, "auth.checkPassword") != 0 {
		t.Errorf("DC1 %v\nDC3 %v", e.srv.DCCallCounts(1), e.srv.DCCallCounts(3))
	}
	e.secondRun(3)
	// The code logs in once.
	out, code = e.run("sandbox", "scan", link)
	if code != 2 || !strings.Contains(out, "error: the QR code was already scanned (AUTH_TOKEN_ALREADY_ACCEPTED)") {
		t.Errorf("second scan: exit %d\n%s", code, out)
	}
}

// On the default single DC, without 2FA: a code that expires is replaced;
// scanning the old one says AUTH_TOKEN_EXPIRED (exit 2), the new one logs
// in. On a terminal the new code is drawn over the old one, black on white.
func TestQRLoginTokenExpiresOnTerminal(t *testing.T) {
	const ttl = 2 * time.Second
	e := startE2E(t, sandbox.Options{Users: 2, LoginTokenTTL: ttl})
	c := e.cmd("login", "--qr")
	c.Env = append(c.Env, "TERM=xterm")
	term := startOnTTY(t, c, ttyStdin|ttyStdout|ttyStderr)
	term.waitFor(t, "tg://login?token=", 1, promptWait)
	first := linkRe.FindString(term.String())
	time.Sleep(ttl + time.Second) // past its expiry, which is kept in whole seconds
	out, code := e.run("sandbox", "scan", first)
	if code != 2 || !strings.Contains(out, "broadcast: error: the QR code has expired (AUTH_TOKEN_EXPIRED)") || !strings.Contains(out, "hint: scan the code") {
		t.Fatalf("scan of an expired code: exit %d\n%s", code, out)
	}
	n := strings.Count(term.String(), "tg://login?token=")
	term.waitFor(t, "tg://login?token=", n+1, promptWait) // a new one, just exported
	links := linkRe.FindAllString(term.String(), -1)
	fresh := links[len(links)-1]
	if fresh == first {
		t.Fatalf("the same code again: %s", fresh)
	}
	if _, err := e.srv.Scan(fresh, ""); err != nil {
		t.Fatal(err)
	}
	if code := term.exit(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, term.String())
	}
	screen := term.String()
	for _, s := range []string{"\x1b[30;47m", "\x1b[J", "logged in as Me Sandbox", "(DC 2)"} {
		if !strings.Contains(screen, s) {
			t.Errorf("the terminal lacks %q:\n%s", s, screen)
		}
	}
}

// Ctrl-C while waiting for the scan: exit 130 and the state dir as it was,
// both with nobody logged in and with an earlier login, which stays.
func TestQRLoginInterrupted(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 2})
	interrupt := func() string {
		t.Helper()
		q := e.startQR(t)
		q.link(t)
		q.cmd.Process.Signal(syscall.SIGINT)
		if code := q.wait(t); code != 130 {
			t.Fatalf("exit %d after SIGINT\n%s", code, q.stderr.String())
		}
		return q.stdout.String()
	}
	if out := interrupt(); out != "" {
		t.Errorf("stdout: %q", out)
	}
	if out, code := e.run("whoami"); code != 4 || !strings.Contains(out, "not logged in") {
		t.Errorf("whoami: exit %d\n%s", code, out)
	}
	st := e.openState(t)
	if _, err := st.LoadSession(); err != store.ErrNotFound {
		t.Errorf("a half session was left: %v", err)
	}
	st.Close()

	e.must("", "login", "--bot-token", sandbox.BotToken)
	interrupt()
	if out := e.must("", "whoami"); !strings.Contains(out, "Sandbox Bot") {
		t.Errorf("whoami after an interrupted QR login: %s", out)
	}
	e.must("", "send", "--to", "@friend1", "still the bot")
	if in := e.srv.Inbox("friend1"); len(in) != 1 || in[0].FromID != 123456 {
		t.Errorf("inbox: %+v", in)
	}
}

// --qr does not go with --phone or --bot-token; a phone number in the
// environment yields to it.
func TestQRLoginUsage(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 1, QRAutoScan: 100 * time.Millisecond})
	out, code := e.run("login", "--qr", "--phone", "+15550000000")
	if code != 2 || !strings.Contains(out, "--qr does not go with --phone or --bot-token") {
		t.Errorf("exit %d\n%s", code, out)
	}
	e.env = append(e.env, "BROADCAST_PHONE=+15550000001")
	if out := e.must("", "login", "--qr"); !strings.Contains(out, "logged in as Me Sandbox") {
		t.Errorf("auto-scanned login: %s", out)
	}
}

// The half blocks are the code: reading the drawing back gives the
// encoder's modules, with and without colour.
func TestQRRendering(t *testing.T) {
	const text = "tg://login?token=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		t.Fatal(err)
	}
	for _, color := range []bool{true, false} {
		art, err := renderQR(text, color)
		if err != nil {
			t.Fatal(err)
		}
		art = strings.NewReplacer("\x1b[30;47m", "", "\x1b[0m", "").Replace(art)
		rows := strings.Split(strings.TrimSuffix(art, "\n"), "\n")
		n := code.Size + 2*qrQuiet
		if len(rows) != (n+1)/2 {
			t.Fatalf("color %v: %d rows, want %d", color, len(rows), (n+1)/2)
		}
		for r, row := range rows {
			cells := []rune(row)
			if len(cells) != n {
				t.Fatalf("row %d: %d cells, want %d", r, len(cells), n)
			}
			for x, c := range cells {
				top := c == '█' || c == '▀'
				bottom := c == '█' || c == '▄'
				for i, blk := range []bool{top, bottom} {
					y := 2*r + i
					if y >= n {
						continue
					}
					mx, my := x-qrQuiet, y-qrQuiet
					dark := mx >= 0 && my >= 0 && mx < code.Size && my < code.Size && code.Black(mx, my)
					if blk != (dark == color) {
						t.Fatalf("color %v: module (%d,%d) dark=%v drawn as %q", color, mx, my, dark, c)
					}
				}
			}
		}
	}
}
