package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// startSOCKS5 starts the sandbox's SOCKS5 proxy (RFC 1928/1929, 127.0.0.1
// only) for the length of the test.
func startSOCKS5(t *testing.T, user, pass string) *sandbox.SOCKS5 {
	t.Helper()
	px, err := sandbox.StartSOCKS5(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return px
}

// startMTProxy starts the sandbox's MTProxy, forwarding to upstream, for the
// length of the test.
func startMTProxy(t *testing.T, upstream string, secret []byte) *sandbox.MTProxy {
	t.Helper()
	px, err := sandbox.StartMTProxy(upstream, secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return px
}

// Login and sends through a SOCKS5 proxy with a password; the proxy carries
// every connection, and the password is never printed, not even by -v.
func TestSOCKS5Proxy(t *testing.T) {
	const pass = "pr0xy-pa55word"
	e := startE2E(t, sandbox.Options{Users: 3})
	px := startSOCKS5(t, "alice", pass)
	proxyURL := fmt.Sprintf("socks5://alice:%s@%s", pass, px.Addr())

	out, code := e.run("-vv", "--proxy", proxyURL, "login", "--bot-token", sandbox.BotToken)
	if code != 0 {
		t.Fatalf("login through the proxy: exit %d\n%s", code, tail(out))
	}
	afterLogin := px.Connects()
	if afterLogin == 0 {
		t.Fatal("the login did not go through the proxy")
	}
	out2, code := e.run("-vv", "--proxy", proxyURL, "send", "--to", "@friend1", "through socks")
	if code != 0 {
		t.Fatalf("send through the proxy: exit %d\n%s", code, tail(out2))
	}
	if got := len(e.srv.Inbox("friend1")); got != 1 {
		t.Fatalf("friend1 has %d messages, want 1", got)
	}
	if px.Connects() == afterLogin {
		t.Fatal("the send did not go through the proxy")
	}
	// BROADCAST_PROXY, and a socks5h:// URL, work the same.
	before := px.Connects()
	e.env = append(e.env, "BROADCAST_PROXY="+strings.Replace(proxyURL, "socks5:", "socks5h:", 1))
	out3, code := e.run("send", "--to", "@friend2", "through socks, from the environment")
	if code != 0 {
		t.Fatalf("send with BROADCAST_PROXY: exit %d\n%s", code, tail(out3))
	}
	if got := len(e.srv.Inbox("friend2")); got != 1 || px.Connects() == before {
		t.Fatalf("friend2 has %d messages; the proxy carried %d new connections", got, px.Connects()-before)
	}
	for _, o := range []string{out, out2, out3} {
		if strings.Contains(o, pass) {
			t.Fatalf("the proxy password was printed:\n%s", o)
		}
	}
	t.Logf("the proxy carried %d connections", px.Connects())
}

// A wrong proxy password fails at once with exit 1 and says so, without
// printing the password, and nothing is sent.
func TestSOCKS5ProxyWrongPassword(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 3})
	px := startSOCKS5(t, "alice", "right-password")
	if out, code := e.run("login", "--bot-token", sandbox.BotToken); code != 0 {
		t.Fatalf("direct login: exit %d\n%s", code, out)
	}
	const wrong = "wr0ng-pa55word"
	start := time.Now()
	out, code := e.run("-vv", "--timeout", "20s", "--proxy", "socks5://alice:"+wrong+"@"+px.Addr(), "send", "--to", "@friend1", "never")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "broadcast: ") {
			t.Log(l)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a refused proxy login took %s to fail: it should not wait for --timeout", took)
	}
	want := "broadcast: error: proxy socks5://alice@" + px.Addr() + " refused the login: "
	if !strings.Contains(out, want) || !strings.Contains(out, "authentication failed") {
		t.Errorf("output lacks %q … authentication failed:\n%s", want, out)
	}
	if !strings.Contains(out, "broadcast: hint: check the proxy's address, user name and password in --proxy (BROADCAST_PROXY)") {
		t.Errorf("no hint:\n%s", out)
	}
	if strings.Contains(out, wrong) {
		t.Errorf("the proxy password was printed:\n%s", out)
	}
	if px.RefusedLogins() == 0 || px.Connects() != 0 {
		t.Errorf("the proxy refused %d logins and carried %d connections", px.RefusedLogins(), px.Connects())
	}
	if n := len(e.srv.Inbox("friend1")); n != 0 {
		t.Errorf("friend1 got %d messages", n)
	}
}

// Login and a send through an MTProxy link, in both spellings; a wrong
// secret fails with exit 1.
func TestMTProxy(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 3})
	secret := []byte("0123456789abcdef")
	px := startMTProxy(t, e.srv.Addr(), secret)
	host, port, _ := net.SplitHostPort(px.Addr())
	link := fmt.Sprintf("tg://proxy?server=%s&port=%s&secret=dd%s", host, port, hex.EncodeToString(secret))

	if out, code := e.run("--proxy", link, "login", "--bot-token", sandbox.BotToken); code != 0 {
		t.Fatalf("login through MTProxy: exit %d\n%s", code, tail(out))
	}
	afterLogin := px.Connects()
	if afterLogin == 0 {
		t.Fatal("the login did not go through the MTProxy")
	}
	if !px.AskedDC(e.srv.DC()) {
		t.Errorf("the client did not ask the MTProxy for DC %d", e.srv.DC())
	}
	tme := fmt.Sprintf("https://t.me/proxy?server=%s&port=%s&secret=%s", host, port, hex.EncodeToString(secret))
	if out, code := e.run("--proxy", tme, "send", "--to", "@friend1", "through mtproxy"); code != 0 {
		t.Fatalf("send through MTProxy: exit %d\n%s", code, tail(out))
	}
	if got := len(e.srv.Inbox("friend1")); got != 1 || px.Connects() == afterLogin {
		t.Fatalf("friend1 has %d messages; the MTProxy carried %d new connections", got, px.Connects()-afterLogin)
	}

	wrong := fmt.Sprintf("tg://proxy?server=%s&port=%s&secret=dd%s", host, port, strings.Repeat("ab", 16))
	out, code := e.run("--timeout", "2s", "--proxy", wrong, "send", "--to", "@friend2", "never")
	if code != 1 || !strings.Contains(out, "broadcast: error: could not connect to") {
		t.Fatalf("wrong secret: exit %d\n%s", code, out)
	}
	if testing.Verbose() {
		t.Logf("wrong secret:\n%s", out)
	}
	if strings.Contains(out, strings.Repeat("ab", 16)) {
		t.Errorf("the secret was printed:\n%s", out)
	}
	if n := len(e.srv.Inbox("friend2")); n != 0 {
		t.Errorf("friend2 got %d messages", n)
	}
}

// Proxy URLs that cannot work are usage errors: exit 2, one error line, a
// hint, no password, and no connection attempted.
func TestProxyUsageErrors(t *testing.T) {
	e := startE2E(t, sandbox.Options{Users: 1})
	for _, tc := range []struct{ url, want string }{
		{"http://alice:hunter2@127.0.0.1:3128", `bad proxy URL: unknown proxy scheme "http"`},
		{"socks5://alice:hunter2@127.0.0.1", "bad proxy URL: missing the proxy's port"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=hunter2hunter2", "bad proxy URL: the MTProxy secret is not hex"},
	} {
		out, code := e.run("--proxy", tc.url, "send", "--to", "@friend1", "never")
		if code != 2 {
			t.Errorf("--proxy %s: exit %d, want 2\n%s", tc.url, code, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "broadcast: error: "+tc.want) || !strings.HasPrefix(lines[1], "broadcast: hint: --proxy (BROADCAST_PROXY) takes socks5://") {
			t.Errorf("--proxy %s: output\n%s\nwant one error line %q and a hint", tc.url, out, tc.want)
		}
		if strings.Contains(out, "hunter2") {
			t.Errorf("--proxy %s: the password or secret was printed:\n%s", tc.url, out)
		}
	}
	if n := e.srv.Calls("help.getConfig") + len(e.srv.Inbox("friend1")); n != 0 {
		t.Errorf("a bad proxy URL still reached the server")
	}
}
