package telegram

import (
	"context"
	"errors"
	"sync"

	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/transport"
)

// connWatch sees every connection attempt. gotd retries a failed connect
// forever and keeps the reason to itself, so the watch remembers the last
// reason for the timeout's message, and ends Run at once when a proxy
// refuses the login, which no retry can fix.
type connWatch struct {
	mu     sync.Mutex
	last   error
	fatal  error
	cancel context.CancelFunc
}

// arm starts watching one Run; cancel ends it.
func (w *connWatch) arm(cancel context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last, w.fatal, w.cancel = nil, nil, cancel
}

func (w *connWatch) observe(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
	var pe *ProxyError
	if errors.As(err, &pe) && pe.Refused && w.fatal == nil {
		w.fatal = pe
		if w.cancel != nil {
			w.cancel()
		}
	}
}

// result is the refusal that ended Run, if any, and the last failure.
func (w *connWatch) result() (fatal, last error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fatal, w.last
}

// watchedResolver reports every connection attempt to a connWatch.
type watchedResolver struct {
	r dcs.Resolver
	w *connWatch
}

func (v watchedResolver) Primary(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.Primary(ctx, dc, list)
	v.w.observe(ctx, err)
	return c, err
}

func (v watchedResolver) MediaOnly(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.MediaOnly(ctx, dc, list)
	v.w.observe(ctx, err)
	return c, err
}

func (v watchedResolver) CDN(ctx context.Context, dc int, list dcs.List) (transport.Conn, error) {
	c, err := v.r.CDN(ctx, dc, list)
	v.w.observe(ctx, err)
	return c, err
}
