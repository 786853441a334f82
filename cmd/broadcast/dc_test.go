package main

// dc_test.go: logging in as real Telegram does it, end to end against a
// sandbox of three DCs: a phone, a bot and 2FA that migrate, the session on
// its home DC and the next run's RPCs there, an upload carried to another
// DC, a session moved to another machine, and the `broadcast sandbox
// --dcs` command. The sandbox's per-DC counters are the proof.

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

var (
	dcKeysOnce sync.Once
	dcKeys     []*rsa.PrivateKey
	dcKeysErr  error
)

// startDCs is startE2E with a sandbox of three DCs, with keys shared by
// the tests (as sharedRSAKey is).
func startDCs(t *testing.T, opts sandbox.Options) *e2e {
	t.Helper()
	dcKeysOnce.Do(func() {
		for range 2 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				dcKeysErr = err
				return
			}
			dcKeys = append(dcKeys, k)
		}
	})
	if dcKeysErr != nil {
		t.Fatal(dcKeysErr)
	}
	opts.DCs, opts.DCKeys = 3, dcKeys
	return startE2E(t, opts)
}

// must runs broadcast and fails the test unless it exits 0.
func (e *e2e) must(stdin string, args ...string) string {
	e.t.Helper()
	out, code := e.runStdin(strings.NewReader(stdin), args...)
	if code != 0 {
		e.t.Fatalf("broadcast %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// dcCalls snapshots every DC's call counts.
func (e *e2e) dcCalls() map[int]map[string]int {
	out := map[int]map[string]int{}
	for _, d := range e.srv.DCs() {
		out[d.ID] = e.srv.DCCallCounts(d.ID)
	}
	return out
}

// callsSince is what each DC was asked since before, as "method×n" lists.
func (e *e2e) callsSince(before map[int]map[string]int) map[int]string {
	out := map[int]string{}
	for dc, now := range e.dcCalls() {
		var names []string
		for m, n := range now {
			if d := n - before[dc][m]; d > 0 {
				names = append(names, fmt.Sprintf("%s×%d", m, d))
			}
		}
		sort.Strings(names)
		out[dc] = strings.Join(names, ", ")
	}
	return out
}

// secondRun sends to @friend1 twice and checks the second run: exactly
// help.getConfig and messages.sendMessage, both on DC home, nothing
// anywhere else, and no migration.
func (e *e2e) secondRun(home int) {
	e.t.Helper()
	e.must("", "send", "--to", "@friend1", "first run: resolves and caches the peer")
	before := e.dcCalls()
	e.must("", "send", "--to", "@friend1", "second run")
	got := e.callsSince(before)
	for _, d := range e.srv.DCs() {
		want := ""
		if d.ID == home {
			want = "help.getConfig×1, messages.sendMessage×1"
		}
		if got[d.ID] != want {
			e.t.Errorf("second run on DC %d: %q, want %q", d.ID, got[d.ID], want)
		}
	}
	e.t.Logf("second run: %v", got)
}

// A number that lives on DC 3 logs in through DC 1: auth.sendCode is told
// PHONE_MIGRATE_3, the login goes on there, the session is stored on DC 3
// and whoami says so, and the next send talks to DC 3 only.
func TestDCLoginMigratedPhone(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3})
	out := e.must(sandbox.LoginCode+"\n", "login", "--phone", "+15550000012")
	if !strings.Contains(out, "logged in as Me Sandbox, user ") || !strings.Contains(out, "(DC 3)") {
		t.Fatalf("login: %s", out)
	}
	if who := e.must("", "whoami"); !strings.HasSuffix(strings.TrimSpace(who), "(DC 3)") {
		t.Errorf("whoami: %s", who)
	}
	if j := e.must("", "whoami", "--json"); !strings.Contains(j, `"dc":3`) {
		t.Errorf("whoami --json: %s", j)
	}
	for dc, want := range map[int]string{1: "auth.sendCode", 3: "auth.signIn"} {
		if e.srv.CallsOn(dc, want) != 1 {
			t.Errorf("DC %d: %v", dc, e.srv.DCCallCounts(dc))
		}
	}
	if e.srv.CallsOn(1, "auth.signIn") != 0 || e.srv.CallsOn(3, "auth.sendCode") != 1 {
		t.Errorf("the code was not asked for on DC 3: DC1 %v, DC3 %v", e.srv.DCCallCounts(1), e.srv.DCCallCounts(3))
	}
	e.secondRun(3)
}

// A bot that lives on DC 3 (its id ends in 8) is told USER_MIGRATE_3 and
// logs in there; the second run talks to DC 3 only.
func TestDCLoginMigratedBot(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3})
	out := e.must("", "login", "--bot-token", "123458:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
	if !strings.Contains(out, "bot 123458 on 127.0.0.1:") || !strings.Contains(out, "(DC 3)") {
		t.Fatalf("login: %s", out)
	}
	if e.srv.CallsOn(1, "auth.importBotAuthorization") != 1 || e.srv.CallsOn(3, "auth.importBotAuthorization") != 1 {
		t.Errorf("DC1 %v, DC3 %v", e.srv.DCCallCounts(1), e.srv.DCCallCounts(3))
	}
	e.secondRun(3)
}

// 2FA after a migration: the password is checked on the number's own DC.
func TestDCLogin2FAAfterMigration(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3, Password: "pw"})
	e.env = append(e.env, "BROADCAST_PASSWORD=pw")
	out := e.must(sandbox.LoginCode+"\n", "login", "--phone", "+15550000002")
	if !strings.Contains(out, "logged in as Bob Friend2 (@friend2)") || !strings.Contains(out, "(DC 3)") {
		t.Fatalf("login: %s", out)
	}
	if e.srv.CallsOn(3, "account.getPassword") != 1 || e.srv.CallsOn(3, "auth.checkPassword") != 1 || e.srv.CallsOn(1, "auth.checkPassword") != 0 {
		t.Errorf("DC1 %v, DC3 %v", e.srv.DCCallCounts(1), e.srv.DCCallCounts(3))
	}
	e.secondRun(3)
}

// An attachment whose upload DC 1 answers FILE_MIGRATE_2: gotd exports the
// authorization to DC 2, the parts go there, every byte once, and both
// recipients get the file, sent from DC 1.
func TestDCUploadMigrates(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3, FileDC: 2})
	e.must("", "login", "--bot-token", sandbox.BotToken) // bot 123456 lives on DC 1
	data := make([]byte, 600*1024)
	rand.Read(data)
	att := filepath.Join(e.dir, "car.bin")
	if err := os.WriteFile(att, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.dcCalls()
	e.must("", "send", "--attach", att, "--to", "@friend1,@friend2", "the car's papers")
	if got := e.srv.UploadedBytesOn(2); got != int64(len(data)) || e.srv.UploadedBytesOn(1) != 0 || e.srv.UploadedBytes() != int64(len(data)) {
		t.Errorf("uploaded DC1 %d, DC2 %d, in all %d; want %d, on DC 2 only", e.srv.UploadedBytesOn(1), got, e.srv.UploadedBytes(), len(data))
	}
	calls := e.callsSince(before)
	if !strings.Contains(calls[1], "auth.exportAuthorization×1") || !strings.Contains(calls[2], "auth.importAuthorization×1") || calls[3] != "" {
		t.Errorf("calls: %v", calls)
	}
	for _, f := range []string{"friend1", "friend2"} {
		if in := e.srv.Inbox(f); len(in) != 1 || in[0].Media == nil || in[0].Media.Size != int64(len(data)) {
			t.Errorf("%s: %+v", f, in)
		}
	}
	t.Logf("calls: %v", calls)
}

// A session on DC 3 moves to another machine as a string: whoami there
// names DC 3, and a send goes straight to DC 3, though the config there
// names DC 1 only.
func TestDCSessionTransfer(t *testing.T) {
	e := startDCs(t, sandbox.Options{Users: 3})
	e.must(sandbox.LoginCode+"\n", "login", "--phone", "+15550000012")
	s := e.must("", "session", "export", "-q")
	if j := e.must("", "session", "export", "-q", "--json"); !strings.Contains(j, `"dc":3`) {
		t.Errorf("export --json: %s", j)
	}

	other := t.TempDir()
	for _, f := range []string{"config.yaml", "server.pem"} {
		b, err := os.ReadFile(filepath.Join(e.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(other, f), b, 0o600)
	}
	m := &e2e{t: t, srv: e.srv, dir: other, env: homeEnv(other, sandboxEnv(other))}
	if out := m.must(s, "session", "import"); !strings.Contains(out, "imported the session of Me Sandbox") {
		t.Fatalf("import: %s", out)
	}
	if who := m.must("", "whoami"); !strings.Contains(who, "(DC 3)") {
		t.Errorf("whoami on the other machine: %s", who)
	}
	before := m.dcCalls()
	m.must("", "send", "--to", "@friend1", "from the other machine")
	calls := m.callsSince(before)
	if calls[1] != "" || calls[2] != "" || !strings.Contains(calls[3], "messages.sendMessage×1") {
		t.Errorf("calls: %v", calls)
	}
	if in := e.srv.Inbox("friend1"); len(in) != 1 || in[0].Text != "from the other machine" {
		t.Errorf("inbox: %+v", in)
	}
	t.Logf("calls: %v", calls)
}

// `broadcast sandbox --dcs 3` says where each DC is and how to play the
// phone, counts per DC, and keeps its DC count: the same --dir asked for
// another count is refused. Without --dcs it is one DC, as before.
func TestSandboxCommandDCs(t *testing.T) {
	dir := t.TempDir()
	sb := startSandboxCmd(t, "--dir", dir, "--users", "3", "--dcs", "3")
	for _, want := range []string{"(DC 1)", "DC 2 on 127.0.0.1:", "DC 3 on 127.0.0.1:", "broadcast sandbox scan"} {
		if !strings.Contains(sb.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, sb.banner)
		}
	}
	if pem, _ := os.ReadFile(filepath.Join(dir, "server.pem")); strings.Count(string(pem), "BEGIN RSA PUBLIC KEY") != 3 {
		t.Errorf("server.pem:\n%s", pem)
	}
	e := &e2e{t: t, dir: dir, env: homeEnv(dir, sandboxEnv(dir))}
	out := e.must(sandbox.LoginCode+"\n", "login", "--phone", "+15550000012")
	if !strings.Contains(out, "(DC 3)") {
		t.Fatalf("login: %s", out)
	}
	e.must("", "send", "--to", "@friend1", "hello")
	sb.stop(t)
	if !strings.Contains(sb.stderr.String(), "sandbox: DC 3: ") || !strings.Contains(sb.stderr.String(), "messages.sendMessage×1") {
		t.Errorf("stderr: %s", sb.stderr.String())
	}

	// The same dir again: three DCs without --dcs, and the login still works.
	sb = startSandboxCmd(t, "--dir", dir, "--users", "3")
	if !strings.Contains(sb.banner, "DC 3 on 127.0.0.1:") {
		t.Errorf("restart banner:\n%s", sb.banner)
	}
	if who := e.must("", "whoami"); !strings.Contains(who, "(DC 3)") {
		t.Errorf("whoami: %s", who)
	}
	e.must("", "send", "--to", "@friend1", "after the restart")
	sb.stop(t)

	bad := &e2e{t: t, dir: dir, env: homeEnv(dir, nil)}
	out, code := bad.run("sandbox", "--dir", dir, "--dcs", "2")
	if code != 1 || !strings.Contains(out, "another number of DCs") || !strings.Contains(out, "hint: give the --dcs it was started with") {
		t.Errorf("--dcs 2 on a 3-DC dir: exit %d\n%s", code, out)
	}
	out, code = bad.run("sandbox", "--dir", t.TempDir(), "--file-dc", "2")
	if code != 2 || !strings.Contains(out, "--file-dc needs several DCs") {
		t.Errorf("--file-dc without --dcs: exit %d\n%s", code, out)
	}

	one := startSandboxCmd(t, "--dir", t.TempDir(), "--users", "2")
	if !strings.Contains(one.banner, "(DC 2)") || strings.Contains(one.banner, "data centres") {
		t.Errorf("the default is one DC, DC 2:\n%s", one.banner)
	}
	one.stop(t)
}
