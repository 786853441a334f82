package sandbox

// listener.go owns the TCP side below tgtest: a listener that hands tgtest
// only connections whose codec header has arrived, and closes them all on
// stop.

import (
	"bytes"
	"io"
	"net"
	"sync"
	"time"
)

// headerListener hands tgtest only connections whose first four bytes have
// arrived. tgtest detects the transport codec inside its accept loop, so a
// client that connects and closes early would otherwise end Server.Serve for
// everyone. It also remembers every connection so Close can end them: tgtest's
// connection loops ignore shutdown.
type headerListener struct {
	net.Listener

	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// headerTimeout bounds how long a new connection may stay silent.
const headerTimeout = 30 * time.Second

func newHeaderListener(l net.Listener) *headerListener {
	h := &headerListener{
		Listener: l,
		ready:    make(chan net.Conn),
		done:     make(chan struct{}),
		conns:    map[net.Conn]struct{}{},
	}
	go h.acceptLoop()
	return h
}

func (h *headerListener) acceptLoop() {
	for {
		c, err := h.Listener.Accept()
		if err != nil {
			_ = h.Close()
			return
		}
		h.track(c)
		go h.readHeader(c)
	}
}

func (h *headerListener) track(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[c] = struct{}{}
}

func (h *headerListener) forget(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
}

func (h *headerListener) readHeader(c net.Conn) {
	var head [4]byte
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	if _, err := io.ReadFull(c, head[:]); err != nil {
		h.forget(c)
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(head[:]), c), owner: h}
	select {
	case h.ready <- pc:
	case <-h.done:
		_ = c.Close()
	}
}

// Accept returns the next connection that has sent its transport header.
func (h *headerListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ready:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes every connection still open.
func (h *headerListener) Close() error {
	h.closeOnce.Do(func() {
		close(h.done)
		_ = h.Listener.Close()
		h.mu.Lock()
		for c := range h.conns {
			_ = c.Close()
		}
		h.mu.Unlock()
	})
	return nil
}

// prefixConn replays the header bytes already read.
type prefixConn struct {
	net.Conn
	r     io.Reader
	owner *headerListener
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

func (p *prefixConn) Close() error {
	p.owner.forget(p.Conn)
	return p.Conn.Close()
}
