package telegram

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram"
)

// DefaultReconnectWait is Options.ReconnectWait when it is zero: how long a
// run waits for a lost connection to come back. gotd reconnects by itself;
// five minutes rides out a restarted proxy or a server's hiccup, and is
// the same bound a flood wait gets by default.
const DefaultReconnectWait = 5 * time.Minute

// ConnectionLostError ends a Run's callback context when the connection was
// lost and did not come back within For, or came back to a server that can
// no longer be trusted with the session (its key changed).
type ConnectionLostError struct {
	Server string
	For    time.Duration // zero: given up at once
	Err    error         // why the last connection died, when known
}

func (e *ConnectionLostError) Error() string {
	msg := "lost the connection to " + e.Server
	if e.For > 0 {
		msg += fmt.Sprintf(" and it did not come back within %s", e.For)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }

// ErrServerKeyChanged: on reconnecting, the server showed an RSA key other
// than the one configured. No retry can fix that, and a different server
// must not get the session.
var ErrServerKeyChanged = errors.New("the server's RSA key is not the configured one")

// outage turns gotd's connection states into one event for the whole run:
// once connected, a lost connection is announced, waited for up to a bound
// and, if it does not come back, ends the run (stop) instead of letting
// every send retry on its own against a dead client.
type outage struct {
	server string
	wait   time.Duration
	notify func(up bool) // may be nil

	mu      sync.Mutex
	armed   bool // the first connection is up: losses count from now
	down    bool
	lastErr error
	timer   *time.Timer
	stop    context.CancelCauseFunc
}

// arm starts watching after the first connection: stop ends the run.
func (o *outage) arm(stop context.CancelCauseFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.armed, o.down, o.stop = true, false, stop
}

// disarm stops watching (the run is over).
func (o *outage) disarm() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.armed = false
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
}

// state is gotd's OnConnectionState.
func (o *outage) state(s telegram.ConnectionState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.armed {
		return
	}
	switch s {
	case telegram.ConnectionStateReady:
		if o.down {
			o.down = false
			if o.timer != nil {
				o.timer.Stop()
				o.timer = nil
			}
			if o.notify != nil {
				o.notify(true)
			}
		}
	case telegram.ConnectionStateDisconnected:
		if o.down {
			return
		}
		o.down = true
		if o.notify != nil {
			o.notify(false)
		}
		o.timer = time.AfterFunc(o.wait, func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.down && o.armed {
				o.stop(&ConnectionLostError{Server: o.server, For: o.wait, Err: o.lastErr})
			}
		})
	}
}

// dead is gotd's OnDead: why the connection died. A changed server key
// ends the run at once.
func (o *outage) dead(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastErr = err
	if o.armed && errors.Is(err, exchange.ErrKeyFingerprintNotFound) {
		o.stop(&ConnectionLostError{Server: o.server, Err: ErrServerKeyChanged})
	}
}
