package telegram

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/transport"
)

// connWatch sees the connect phase of one Run: from the start until the
// first connection is ready, or until the phase ends without one (the
// deadline passes, the caller gives up, a proxy refuses the login).
//
// gotd retries a failed connect forever and keeps the reason to itself; it
// sleeps between attempts without watching its context (telegram/connect.go
// hides the context from backoff.RetryNotify behind tdsync.SyncBackoff);
// and until a key exchange is over it closes no socket on cancel. So the
// watch remembers the last reason for the timeout's message, does gotd's
// waiting itself (newBackoff) so that the end of the phase ends a wait,
// closes the phase's sockets when it ends, and ends Run at once when a
// proxy refuses the login, which no retry can fix.
type connWatch struct {
	mu       sync.Mutex
	last     error
	fatal    error
	cancel   context.CancelFunc
	deadline time.Time
	phase    connPhase
	ended    chan struct{} // closed when the phase ends without a connection
	// open is every connection made while connecting and not yet closed.
	// gotd closes a connection on cancel only once its key exchange is
	// over; until then a read waits for its own deadline, up to
	// ExchangeTimeout after the attempt began.
	open map[*watchedConn]struct{}
}

type connPhase int

const (
	phaseConnecting connPhase = iota
	phaseConnected            // the callback runs
	phaseTimedOut             // the deadline passed first
	phaseAbandoned            // the caller's context ended first
	phaseRefused              // a proxy refused the login
)

// arm starts watching one Run: cancel ends it, and the first connection
// must be ready by deadline.
func (w *connWatch) arm(cancel context.CancelFunc, deadline time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last, w.fatal, w.cancel = nil, nil, cancel
	w.deadline, w.phase, w.ended = deadline, phaseConnecting, make(chan struct{})
	w.open = map[*watchedConn]struct{}{}
}

// connected ends the phase with a ready connection. False when the phase
// had already ended otherwise: the callback must not start then.
func (w *connWatch) connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase != phaseConnecting {
		return false
	}
	w.phase = phaseConnected
	w.open = nil
	return true
}

// end ends the phase without a connection, if it has not ended, cancels
// Run, and closes every connection still open. w.mu must be held.
func (w *connWatch) end(p connPhase) {
	if w.phase != phaseConnecting {
		return
	}
	w.phase = p
	if w.cancel != nil {
		w.cancel()
	}
	close(w.ended)
	for c := range w.open {
		// Closing a socket does not block; a read on it returns at once.
		c.Conn.Close()
	}
	w.open = nil
}

// giveUp ends the phase as p (phaseTimedOut or phaseAbandoned) unless a
// connection was ready first.
func (w *connWatch) giveUp(p connPhase) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end(p)
}

// track records a new connection while connecting; when the phase has
// already ended without one, it closes it and says so.
func (w *connWatch) track(c *watchedConn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.phase {
	case phaseConnecting:
		w.open[c] = struct{}{}
	case phaseConnected:
	default:
		c.Conn.Close()
		return false
	}
	return true
}

func (w *connWatch) untrack(c *watchedConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.open, c)
}

// endedWithout is closed once the phase has ended without a connection.
func (w *connWatch) endedWithout() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended
}

// observe records a failed connection attempt.
func (w *connWatch) observe(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase == phaseConnecting {
		w.last = err
	}
	var pe *ProxyError
	if errors.As(err, &pe) && pe.Refused && w.fatal == nil {
		w.fatal = pe
		if w.phase == phaseConnecting {
			w.end(phaseRefused)
		} else if w.cancel != nil {
			w.cancel()
		}
	}
}

// result is how the connect phase ended, the refusal that ended Run, if any,
// and the last failure while connecting.
func (w *connWatch) result() (phase connPhase, fatal, last error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase == phaseConnecting && !time.Now().Before(w.deadline) {
		// gotd gave up on its own (see newBackoff) a moment before the
		// timer fired.
		w.end(phaseTimedOut)
	}
	return w.phase, w.fatal, w.last
}

// newBackoff is gotd's reconnection backoff (its defaults: 100 ms doubling
// to 5 s, ±50 %, no limit), except while connecting. gotd sleeps out the
// wait it is given even after its context is cancelled, so a wait begun
// just before the deadline or a Ctrl-C would hold Run up to 7.5 s longer.
// While connecting, NextBackOff therefore waits itself, until the wait is
// over, the deadline passes or the phase ends, and returns 0 to go on or
// Stop to give up. gotd calls it between attempts, with no connection
// running; nothing else waits on it then (its lock is otherwise taken only
// when a connection becomes ready).
func (w *connWatch) newBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0
	return &watchedBackoff{b: b, w: w}
}

type watchedBackoff struct {
	b backoff.BackOff
	w *connWatch
}

func (b *watchedBackoff) NextBackOff() time.Duration {
	next := b.b.NextBackOff()
	b.w.mu.Lock()
	phase, deadline, ended := b.w.phase, b.w.deadline, b.w.ended
	b.w.mu.Unlock()
	switch phase {
	case phaseConnected:
		return next
	case phaseConnecting:
		left := time.Until(deadline)
		if left <= 0 {
			return backoff.Stop
		}
		t := time.NewTimer(min(next, left))
		defer t.Stop()
		select {
		case <-t.C:
			if time.Now().Before(deadline) {
				return 0
			}
		case <-ended:
		}
	}
	return backoff.Stop
}

func (b *watchedBackoff) Reset() { b.b.Reset() }

// watchedResolver reports every connection attempt to a connWatch, and
// every failure of a connection it made.
type watchedResolver struct {
	r dcs.Resolver
	w *connWatch
}

func (v watchedResolver) Primary(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.Primary(ctx, dc, list)
	return v.watched(ctx, c, err)
}

func (v watchedResolver) MediaOnly(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.MediaOnly(ctx, dc, list)
	return v.watched(ctx, c, err)
}

func (v watchedResolver) CDN(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.CDN(ctx, dc, list)
	return v.watched(ctx, c, err)
}

func (v watchedResolver) watched(ctx context.Context, c transport.Conn, err error) (transport.Conn, error) {
	v.w.observe(ctx, err)
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c, w: v.w}
	if !v.w.track(wc) {
		return nil, context.Canceled
	}
	return wc, nil
}

// watchedConn reports why a connection failed (a server that hangs up or
// answers garbage), so that a timeout can say more than "no answer", and
// lets the watch close it when connecting fails.
type watchedConn struct {
	transport.Conn
	w *connWatch
}

func (c *watchedConn) Close() error {
	c.w.untrack(c)
	return c.Conn.Close()
}

func (c *watchedConn) Send(ctx context.Context, b *bin.Buffer) error {
	err := c.Conn.Send(ctx, b)
	c.w.observe(ctx, err)
	return err
}

func (c *watchedConn) Recv(ctx context.Context, b *bin.Buffer) error {
	err := c.Conn.Recv(ctx, b)
	c.w.observe(ctx, err)
	return err
}
