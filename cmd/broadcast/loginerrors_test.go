package main

// loginerrors_test.go: how a refused login, and a session Telegram ended,
// read and exit, end to end: the sandbox gives each refusal as Telegram
// does (loginfaults.go), the built binary words it.

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// wantError checks a failed run: its exit code, exactly one error line
// with errText, and a hint with hintText.
func wantError(t *testing.T, out string, code, wantCode int, errText, hintText string) {
	t.Helper()
	hint := ""
	if _, h, ok := strings.Cut(out, "broadcast: hint: "); ok {
		hint, _, _ = strings.Cut(h, "\n")
	}
	if code != wantCode || strings.Count(out, "broadcast: error: ") != 1 ||
		!strings.Contains(out, "broadcast: error: "+errText) || !strings.Contains(hint, hintText) {
		t.Errorf("exit %d (want %d), want error %q and hint %q:\n%s", code, wantCode, errText, hintText, out)
	}
	if strings.Contains(out, "callback") || strings.Contains(out, "rpc error") {
		t.Errorf("gotd's wrapping leaked:\n%s", out)
	}
}

func TestLoginErrorWording(t *testing.T) {
	code := sandbox.LoginCode + "\n"
	t.Run("PHONE_NUMBER_INVALID", func(t *testing.T) {
		e := startE2E(t, sandbox.Options{Users: 1})
		out, c := e.runStdin(strings.NewReader(code), "login", "--phone", "+1234")
		wantError(t, out, c, 2, "the phone number is not valid", "give the number in international form")
	})
	t.Run("PHONE_NUMBER_BANNED", func(t *testing.T) {
		e := startE2E(t, sandbox.Options{Users: 1, BannedPhones: []string{"+15550000077"}})
		out, c := e.runStdin(strings.NewReader(code), "login", "--phone", "+15550000077")
		wantError(t, out, c, 4, "Telegram has banned this phone number (PHONE_NUMBER_BANNED)", "write to recover@telegram.org")
	})
	t.Run("PHONE_CODE_EXPIRED", func(t *testing.T) {
		e := startE2E(t, sandbox.Options{Users: 1, LoginCodeTTL: time.Second})
		r, w := io.Pipe()
		go func() {
			time.Sleep(2500 * time.Millisecond) // the code arrives late
			io.WriteString(w, code)
			w.Close()
		}()
		out, c := e.runStdin(r, "login", "--phone", "+15550000000")
		wantError(t, out, c, 4, "the login code has expired", "type the new code as soon as it arrives")
	})
	t.Run("PHONE_PASSWORD_FLOOD", func(t *testing.T) {
		e := startE2E(t, sandbox.Options{Users: 1, Password: "pw", PasswordAttempts: 1})
		e.env = append(e.env, "BROADCAST_PASSWORD=wrong")
		out, c := e.runStdin(strings.NewReader(code), "login", "--phone", "+15550000000")
		wantError(t, out, c, 4, "the 2FA password is not valid", "run `broadcast login` again")
		out, c = e.runStdin(strings.NewReader(code), "login", "--phone", "+15550000000")
		wantError(t, out, c, 4, "too many login attempts with a wrong 2FA password (PHONE_PASSWORD_FLOOD)", "wait before trying again")
	})
	t.Run("FLOOD_WAIT", func(t *testing.T) {
		e := startE2E(t, sandbox.Options{Users: 1, LoginFloodWait: 90 * time.Minute})
		out, c := e.runStdin(strings.NewReader(code), "login", "--phone", "+15550000000")
		wantError(t, out, c, 4, "Telegram asks to wait 1h30m0s before the next login attempt (FLOOD_WAIT_5400)", "wait that long")
	})
	t.Run("AUTH_KEY_UNREGISTERED", func(t *testing.T) {
		// A session copied to a second machine, then logged out on the first.
		e := newE2E(t, sandbox.Options{Users: 1})
		s := e.must("", "session", "export", "-q")
		e.must("", "logout")
		e.env = append(e.env, "BROADCAST_STATE_DIR="+filepath.Join(t.TempDir(), "second-machine"))
		e.must(s, "session", "import")
		out, c := e.run("send", "--to", "@friend1", "hello")
		wantError(t, out, c, 4, "Telegram no longer knows this session: it was logged out (AUTH_KEY_UNREGISTERED)", "run `broadcast login` again")
		// Without a send in the way, the hint says why.
		out, c = e.run("resolve", "@friend2")
		wantError(t, out, c, 4, "Telegram no longer knows this session: it was logged out (AUTH_KEY_UNREGISTERED)", "a session moved with `session export` ends everywhere")
		if len(e.srv.Inbox("friend1")) != 0 {
			t.Error("a message went out")
		}
	})
	t.Run("SESSION_REVOKED", func(t *testing.T) {
		e := newE2E(t, sandbox.Options{Users: 1})
		if n := e.srv.RevokeSessions("@sandbox123456_bot"); n != 1 {
			t.Fatalf("revoked %d sessions", n)
		}
		out, c := e.run("send", "--to", "@friend1", "hello")
		wantError(t, out, c, 4, "this session was ended from another device (SESSION_REVOKED)", "run `broadcast login` again, then `broadcast resume")
		out, c = e.run("resolve", "@friend2")
		wantError(t, out, c, 4, "this session was ended from another device (SESSION_REVOKED)", "check Settings → Devices")
	})
}
