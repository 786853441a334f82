package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/mtproxy/obfuscated2"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// loopback is a TCP server for tests on 127.0.0.1: it hands every
// connection to a serve function, and when the test ends it closes its
// listener and every connection it tracked.
type loopback struct {
	ln net.Listener

	mu    sync.Mutex
	conns []net.Conn
}

// listen starts serving; serve runs in a goroutine per connection.
func (l *loopback) listen(t *testing.T, serve func(net.Conn)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.track(c)
			go serve(c)
		}
	}()
	t.Cleanup(l.close)
}

func (l *loopback) addr() string { return l.ln.Addr().String() }

// track has c closed with the server.
func (l *loopback) track(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, c)
}

func (l *loopback) close() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// socks5Server is a SOCKS5 proxy for tests (RFC 1928, CONNECT only, with
// RFC 1929 username/password authentication) on 127.0.0.1. It connects only
// to 127.0.0.1, and counts what it saw.
type socks5Server struct {
	loopback
	user, pass string

	connects   atomic.Int64 // CONNECTs it carried out
	authFailed atomic.Int64 // logins it refused
}

func startSOCKS5(t *testing.T, user, pass string) *socks5Server {
	t.Helper()
	s := &socks5Server{user: user, pass: pass}
	s.listen(t, s.serve)
	return s
}

func (s *socks5Server) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if !s.authenticate(c) {
		return
	}
	host, port, ok := readSOCKSRequest(c)
	if !ok {
		return
	}
	if host != "127.0.0.1" && host != "localhost" {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) // not allowed: tests stay on 127.0.0.1
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	s.track(up)
	s.connects.Add(1)
	bound := up.LocalAddr().(*net.TCPAddr)
	reply := []byte{5, 0, 0, 1}
	reply = append(reply, bound.IP.To4()...)
	reply = binary.BigEndian.AppendUint16(reply, uint16(bound.Port))
	if _, err := c.Write(reply); err != nil {
		up.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	pipe(c, up)
}

// authenticate answers the greeting (VER NMETHODS METHODS), accepting only
// username/password (0x02), and checks the login (RFC 1929: VER ULEN UNAME
// PLEN PASSWD).
func (s *socks5Server) authenticate(c net.Conn) bool {
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil || head[0] != 5 {
		return false
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return false
	}
	if !strings.Contains(string(methods), "\x02") {
		c.Write([]byte{5, 0xff})
		return false
	}
	c.Write([]byte{5, 2})
	user, ok := readSOCKSField(c, true)
	if !ok {
		return false
	}
	pass, ok := readSOCKSField(c, false)
	if !ok {
		return false
	}
	if user != s.user || pass != s.pass {
		s.authFailed.Add(1)
		c.Write([]byte{1, 1})
		return false
	}
	c.Write([]byte{1, 0})
	return true
}

// readSOCKSRequest reads a request (VER CMD RSV ATYP DST.ADDR DST.PORT) and
// answers the ones it cannot carry out: an unknown address type, a command
// other than CONNECT.
func readSOCKSRequest(c net.Conn) (host string, port uint16, ok bool) {
	req := make([]byte, 4)
	if _, err := io.ReadFull(c, req); err != nil || req[0] != 5 {
		return "", 0, false
	}
	switch req[3] {
	case 1, 4: // IPv4, IPv6
		ip := make([]byte, net.IPv4len)
		if req[3] == 4 {
			ip = make([]byte, net.IPv6len)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return "", 0, false
		}
		host = net.IP(ip).String()
	case 3:
		if host, ok = readSOCKSField(c, false); !ok {
			return "", 0, false
		}
	default:
		c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0}) // address type not supported
		return "", 0, false
	}
	pb := make([]byte, 2)
	if _, err := io.ReadFull(c, pb); err != nil {
		return "", 0, false
	}
	if req[1] != 1 {
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return "", 0, false
	}
	return host, binary.BigEndian.Uint16(pb), true
}

// readSOCKSField reads a length-prefixed string, after a version byte when
// withVersion.
func readSOCKSField(c net.Conn, withVersion bool) (string, bool) {
	if withVersion {
		v := make([]byte, 1)
		if _, err := io.ReadFull(c, v); err != nil || v[0] != 1 {
			return "", false
		}
	}
	n := make([]byte, 1)
	if _, err := io.ReadFull(c, n); err != nil {
		return "", false
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(c, b); err != nil {
		return "", false
	}
	return string(b), true
}

// pipe copies both ways until either side closes.
func pipe(a io.ReadWriteCloser, b io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	cp := func(dst io.Writer, src io.Reader) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
}

// mtProxyServer is an MTProxy for tests: it undoes the obfuscated2 layer
// keyed with its secret and forwards the MTProto stream to the sandbox,
// whatever DC the client asked for.
type mtProxyServer struct {
	loopback
	upstream string
	secret   []byte // 16 bytes

	connects atomic.Int64
	dcs      sync.Map // DC ids asked for
}

func startMTProxy(t *testing.T, upstream string, secret []byte) *mtProxyServer {
	t.Helper()
	p := &mtProxyServer{upstream: upstream, secret: secret}
	p.listen(t, p.serve)
	return p
}

func (p *mtProxyServer) serve(c net.Conn) {
	defer c.Close()
	rw, md, err := obfuscated2.Accept(c, p.secret)
	if err != nil {
		return
	}
	// A wrong secret decrypts to a tag that is no MTProto transport.
	switch md.Protocol {
	case [4]byte{0xdd, 0xdd, 0xdd, 0xdd}, [4]byte{0xee, 0xee, 0xee, 0xee}:
	default:
		return
	}
	p.dcs.Store(int16(md.DC), true)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	p.track(up)
	p.connects.Add(1)
	if _, err := up.Write(md.Protocol[:]); err != nil {
		up.Close()
		return
	}
	pipe(struct {
		io.Reader
		io.Writer
		io.Closer
	}{rw, rw, c}, up)
}

// Login and sends through a SOCKS5 proxy with a password; the proxy carries
// every connection, and the password is never printed, not even by -v.
func TestSOCKS5Proxy(t *testing.T) {
	const pass = "pr0xy-pa55word"
	e := startE2E(t, sandbox.Options{Users: 3})
	px := startSOCKS5(t, "alice", pass)
	proxyURL := fmt.Sprintf("socks5://alice:%s@%s", pass, px.addr())

	out, code := e.run("-vv", "--proxy", proxyURL, "login", "--bot-token", sandbox.BotToken)
	if code != 0 {
		t.Fatalf("login through the proxy: exit %d\n%s", code, tail(out))
	}
	afterLogin := px.connects.Load()
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
	if px.connects.Load() == afterLogin {
		t.Fatal("the send did not go through the proxy")
	}
	// BROADCAST_PROXY, and a socks5h:// URL, work the same.
	before := px.connects.Load()
	e.env = append(e.env, "BROADCAST_PROXY="+strings.Replace(proxyURL, "socks5:", "socks5h:", 1))
	out3, code := e.run("send", "--to", "@friend2", "through socks, from the environment")
	if code != 0 {
		t.Fatalf("send with BROADCAST_PROXY: exit %d\n%s", code, tail(out3))
	}
	if got := len(e.srv.Inbox("friend2")); got != 1 || px.connects.Load() == before {
		t.Fatalf("friend2 has %d messages; the proxy carried %d new connections", got, px.connects.Load()-before)
	}
	for _, o := range []string{out, out2, out3} {
		if strings.Contains(o, pass) {
			t.Fatalf("the proxy password was printed:\n%s", o)
		}
	}
	t.Logf("the proxy carried %d connections", px.connects.Load())
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
	out, code := e.run("-vv", "--timeout", "20s", "--proxy", "socks5://alice:"+wrong+"@"+px.addr(), "send", "--to", "@friend1", "never")
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
	want := "broadcast: error: proxy socks5://alice@" + px.addr() + " refused the login: "
	if !strings.Contains(out, want) || !strings.Contains(out, "authentication failed") {
		t.Errorf("output lacks %q … authentication failed:\n%s", want, out)
	}
	if !strings.Contains(out, "broadcast: hint: check the proxy's address, user name and password in --proxy (BROADCAST_PROXY)") {
		t.Errorf("no hint:\n%s", out)
	}
	if strings.Contains(out, wrong) {
		t.Errorf("the proxy password was printed:\n%s", out)
	}
	if px.authFailed.Load() == 0 || px.connects.Load() != 0 {
		t.Errorf("the proxy refused %d logins and carried %d connections", px.authFailed.Load(), px.connects.Load())
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
	host, port, _ := net.SplitHostPort(px.addr())
	link := fmt.Sprintf("tg://proxy?server=%s&port=%s&secret=dd%s", host, port, hex.EncodeToString(secret))

	if out, code := e.run("--proxy", link, "login", "--bot-token", sandbox.BotToken); code != 0 {
		t.Fatalf("login through MTProxy: exit %d\n%s", code, tail(out))
	}
	afterLogin := px.connects.Load()
	if afterLogin == 0 {
		t.Fatal("the login did not go through the MTProxy")
	}
	if _, ok := px.dcs.Load(int16(e.srv.DC())); !ok {
		t.Errorf("the client did not ask the MTProxy for DC %d", e.srv.DC())
	}
	tme := fmt.Sprintf("https://t.me/proxy?server=%s&port=%s&secret=%s", host, port, hex.EncodeToString(secret))
	if out, code := e.run("--proxy", tme, "send", "--to", "@friend1", "through mtproxy"); code != 0 {
		t.Fatalf("send through MTProxy: exit %d\n%s", code, tail(out))
	}
	if got := len(e.srv.Inbox("friend1")); got != 1 || px.connects.Load() == afterLogin {
		t.Fatalf("friend1 has %d messages; the MTProxy carried %d new connections", got, px.connects.Load()-afterLogin)
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
