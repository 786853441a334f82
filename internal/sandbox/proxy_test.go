package sandbox

// proxy_test.go: the SOCKS5 and MTProxy test doubles (proxy.go) on their
// own, against a local echo server; the CLI's tests drive them end to end.

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/mtproxy/obfuscated2"
)

// startEcho serves on 127.0.0.1: each connection has its first skip bytes
// dropped and the rest echoed. stop closes it and waits for its goroutines.
func startEcho(t *testing.T, skip int64) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := io.CopyN(io.Discard, c, skip); err == nil {
					_, _ = io.Copy(c, c)
				}
			}()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// roundTrip writes msg to w and reads as many bytes back from r.
func roundTrip(t *testing.T, w io.Writer, r io.Reader, msg string) {
	t.Helper()
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != msg {
		t.Fatalf("read back %q, %v; want %q", got, err, msg)
	}
}

// socksLogin greets the proxy offering username/password and logs in; it
// returns the login status (0 is success).
func socksLogin(t *testing.T, c net.Conn, user, pass string) byte {
	t.Helper()
	msg := []byte{5, 1, 2, 1, byte(len(user))}
	msg = append(msg, user...)
	msg = append(msg, byte(len(pass)))
	msg = append(msg, pass...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 4)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("login reply: %v", err)
	}
	if !bytes.Equal(reply[:3], []byte{5, 2, 1}) {
		t.Fatalf("login reply % x, want 05 02 01 ..", reply)
	}
	return reply[3]
}

// A wrong password is refused and counted, the right one carries a CONNECT
// to 127.0.0.1, and Close ends the open tunnel and every goroutine.
func TestSOCKS5ProxyDouble(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	upstream, stopEcho := startEcho(t, 0)
	defer stopEcho()
	px, err := StartSOCKS5("alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()

	bad, err := net.Dial("tcp", px.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if st := socksLogin(t, bad, "alice", "wrong"); st == 0 {
		t.Fatal("a wrong password was accepted")
	}
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Error("the connection stayed open after a refused login")
	}
	if px.RefusedLogins() != 1 || px.Connects() != 0 {
		t.Errorf("refused %d logins, carried %d connections; want 1, 0", px.RefusedLogins(), px.Connects())
	}

	c, err := net.Dial("tcp", px.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if st := socksLogin(t, c, "alice", "secret"); st != 0 {
		t.Fatalf("the right password was refused: status %d", st)
	}
	host, port, _ := net.SplitHostPort(upstream)
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	req := append([]byte{5, 1, 0, 1}, net.ParseIP(host).To4()...)
	req = append(req, byte(p>>8), byte(p))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 10)
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 {
		t.Fatalf("CONNECT reply % x, %v", reply, err)
	}
	roundTrip(t, c, c, "through socks")
	if px.Connects() != 1 || px.RefusedLogins() != 1 {
		t.Errorf("carried %d connections, refused %d logins; want 1, 1", px.Connects(), px.RefusedLogins())
	}

	if err := px.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the tunnel stayed open after Close")
	}
}

// The right secret reaches the upstream, after the transport tag, with the
// DC recorded; a wrong secret is dropped without dialling; Close ends the
// open tunnel and every goroutine.
func TestMTProxyDouble(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	upstream, stopEcho := startEcho(t, 4) // the tag the proxy writes first
	defer stopEcho()
	secret := []byte("0123456789abcdef")
	px, err := StartMTProxy(upstream, secret)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	tag := [4]byte{0xee, 0xee, 0xee, 0xee}

	dial := func(secret []byte) (net.Conn, *obfuscated2.Obfuscated2) {
		t.Helper()
		c, err := net.Dial("tcp", px.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		o := obfuscated2.NewObfuscated2(rand.Reader, c)
		if err := o.Handshake(tag, 2, mtproxy.Secret{Secret: secret, Type: mtproxy.Secured}); err != nil {
			t.Fatal(err)
		}
		return c, o
	}

	wrong, _ := dial([]byte("fedcba9876543210"))
	defer wrong.Close()
	if _, err := wrong.Read(make([]byte, 1)); err == nil {
		t.Error("a wrong secret was not dropped")
	}
	if px.Connects() != 0 || px.AskedDC(2) {
		t.Errorf("a wrong secret was forwarded: %d connections, DC 2 asked: %v", px.Connects(), px.AskedDC(2))
	}

	c, o := dial(secret)
	defer c.Close()
	roundTrip(t, o, o, "through mtproxy")
	if px.Connects() != 1 || !px.AskedDC(2) || px.AskedDC(3) {
		t.Errorf("%d connections, DC 2 asked: %v, DC 3 asked: %v; want 1, true, false", px.Connects(), px.AskedDC(2), px.AskedDC(3))
	}

	if err := px.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the tunnel stayed open after Close")
	}
}
