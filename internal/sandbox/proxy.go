package sandbox

// proxy.go holds the network test doubles around the sandbox: a SOCKS5 proxy
// (RFC 1928, with RFC 1929 username/password authentication), an MTProxy
// (obfuscated2) and a bare server that is not one (Raw). All listen on
// 127.0.0.1 only and close every connection on Close.

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/mtproxy/obfuscated2"
)

// proxyListener is the TCP side both proxies and Raw share: it accepts on
// 127.0.0.1, hands every connection to serve on a goroutine of its own, and
// on close stops accepting, closes every connection it tracks (accepted and
// dialled upstream) and waits for its goroutines.
type proxyListener struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (l *proxyListener) start(serve func(net.Conn)) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	l.ln = ln
	l.conns = map[net.Conn]struct{}{}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !l.track(c) {
				return
			}
			l.wg.Add(1) // the accept loop still counts, so this never races Wait
			go func() {
				defer l.wg.Done()
				defer l.forget(c)
				serve(c)
			}()
		}
	}()
	return nil
}

func (l *proxyListener) addr() string { return l.ln.Addr().String() }

// track has c closed with the listener; after close it closes c at once
// and reports false.
func (l *proxyListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *proxyListener) forget(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

func (l *proxyListener) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.ln.Close()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// Raw is a bare TCP server on 127.0.0.1 for tests of what a client does
// with a server that is not one: it stalls, hangs up, answers garbage. It
// hands every connection to serve on a goroutine of its own; Close closes
// them all and waits for serve to return, so serve must end when its
// connection is closed.
type Raw struct{ l proxyListener }

// StartRaw starts a Raw server.
func StartRaw(serve func(net.Conn)) (*Raw, error) {
	r := &Raw{}
	if err := r.l.start(serve); err != nil {
		return nil, err
	}
	return r, nil
}

// Addr is the server's address, 127.0.0.1:port.
func (r *Raw) Addr() string { return r.l.addr() }

// Close stops accepting, closes every connection and waits for serve.
func (r *Raw) Close() error { return r.l.close() }

// pipe copies both ways until either side closes, then closes both and
// waits for the other copy to end.
func pipe(a io.ReadWriteCloser, b io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	cp := func(dst io.Writer, src io.Reader) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	_ = a.Close()
	_ = b.Close()
	<-done
}

// SOCKS5 is a SOCKS5 proxy for tests (RFC 1928, CONNECT only, with RFC 1929
// username/password authentication, the only method it offers) on
// 127.0.0.1. It connects only to 127.0.0.1 (a request for another host is
// answered "not allowed"), and counts the CONNECTs it carried out and the
// logins it refused.
type SOCKS5 struct {
	l          proxyListener
	user, pass string

	connects   atomic.Int64
	authFailed atomic.Int64
}

// StartSOCKS5 starts a SOCKS5 proxy on 127.0.0.1 that accepts the login
// user, pass. Close stops it.
func StartSOCKS5(user, pass string) (*SOCKS5, error) {
	s := &SOCKS5{user: user, pass: pass}
	if err := s.l.start(s.serve); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the proxy's address, 127.0.0.1:port.
func (s *SOCKS5) Addr() string { return s.l.addr() }

// Close stops accepting, closes every connection, client and upstream, and
// waits for the proxy's goroutines to end.
func (s *SOCKS5) Close() error { return s.l.close() }

// Connects is how many CONNECT requests the proxy carried out: a connection
// to 127.0.0.1 made and answered "succeeded".
func (s *SOCKS5) Connects() int64 { return s.connects.Load() }

// RefusedLogins is how many username/password logins the proxy refused.
func (s *SOCKS5) RefusedLogins() int64 { return s.authFailed.Load() }

func (s *SOCKS5) serve(c net.Conn) {
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
		_, _ = c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) // not allowed: tests stay on 127.0.0.1
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	if !s.l.track(up) {
		return
	}
	defer s.l.forget(up)
	s.connects.Add(1)
	bound := up.LocalAddr().(*net.TCPAddr)
	reply := []byte{5, 0, 0, 1}
	reply = append(reply, bound.IP.To4()...)
	reply = binary.BigEndian.AppendUint16(reply, uint16(bound.Port))
	if _, err := c.Write(reply); err != nil {
		_ = up.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	pipe(c, up)
}

// authenticate answers the greeting (VER NMETHODS METHODS), accepting only
// username/password (0x02), and checks the login (RFC 1929: VER ULEN UNAME
// PLEN PASSWD).
func (s *SOCKS5) authenticate(c net.Conn) bool {
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil || head[0] != 5 {
		return false
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return false
	}
	if !strings.Contains(string(methods), "\x02") {
		_, _ = c.Write([]byte{5, 0xff})
		return false
	}
	_, _ = c.Write([]byte{5, 2})
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
		_, _ = c.Write([]byte{1, 1})
		return false
	}
	_, _ = c.Write([]byte{1, 0})
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
		_, _ = c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0}) // address type not supported
		return "", 0, false
	}
	pb := make([]byte, 2)
	if _, err := io.ReadFull(c, pb); err != nil {
		return "", 0, false
	}
	if req[1] != 1 {
		_, _ = c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
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

// MTProxy is an MTProxy for tests on 127.0.0.1: it undoes the obfuscated2
// layer keyed with its secret (gotd's obfuscated2.Accept) and forwards the
// MTProto stream, after its transport tag, to one upstream (the sandbox),
// whatever DC the client asked for. A connection whose header does not
// decrypt to the intermediate (0xdddddddd) or padded intermediate
// (0xeeeeeeee) tag, as with a wrong secret, is closed without dialling.
type MTProxy struct {
	l        proxyListener
	upstream string
	secret   []byte

	connects atomic.Int64
	dcs      sync.Map // int16 DC ids asked for
}

// StartMTProxy starts an MTProxy on 127.0.0.1 that forwards to upstream
// (host:port), keyed with secret (16 bytes, without a dd/ee prefix). Close
// stops it.
func StartMTProxy(upstream string, secret []byte) (*MTProxy, error) {
	p := &MTProxy{upstream: upstream, secret: secret}
	if err := p.l.start(p.serve); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *MTProxy) Addr() string { return p.l.addr() }

// Close stops accepting, closes every connection, client and upstream, and
// waits for the proxy's goroutines to end.
func (p *MTProxy) Close() error { return p.l.close() }

// Connects is how many connections the proxy forwarded to the upstream.
func (p *MTProxy) Connects() int64 { return p.connects.Load() }

// AskedDC reports whether a client with the right secret asked for DC dc
// (compared as the signed 16-bit id of the obfuscated2 header).
func (p *MTProxy) AskedDC(dc int) bool {
	_, ok := p.dcs.Load(int16(dc))
	return ok
}

func (p *MTProxy) serve(c net.Conn) {
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
	if !p.l.track(up) {
		return
	}
	defer p.l.forget(up)
	p.connects.Add(1)
	if _, err := up.Write(md.Protocol[:]); err != nil {
		_ = up.Close()
		return
	}
	pipe(struct {
		io.Reader
		io.Writer
		io.Closer
	}{rw, rw, c}, up)
}
