package fanout

// wire.go keeps requests from bunching on the wire. A Sender does more than
// send: it journals, and its workers wait for a shared commit, which releases
// them together; if every released worker then put its request on the wire
// at once, a server's rate limit would be met by all of them at the same
// instant, and each would earn a FLOOD_WAIT of its own. So a Sender marks the
// part of a Send that is on the wire (Wire), and the engine lets only as many
// requests onto the wire at once as the Sends' share of time on the wire
// needs (by Little's law): all of them when latency dominates, a couple when
// the wire is fast and the Sender's own work is what takes the time. And a
// request that comes back with a flood wait closes the gate before its slot
// is free again, so that at a wall at most the window's requests are out.

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// ErrGated is what Wire returns when the flood gate closed, or the run
// stopped, while the request waited for the wire: nothing was sent. A Sender
// returns it (wrapped or not) from Send, and the engine takes the target back
// to the gate without counting an attempt.
var ErrGated = errors.New("not sent: the flood gate closed before the request went out")

type attemptKey struct{}

// attempt is one Send call, found by Wire through the Send's context: what
// the Send spent on the wire, by kind of request, and waiting for it is
// counted against it.
type attempt struct {
	r     *run
	wire  map[string]time.Duration // guarded by wire.mu
	queue time.Duration
}

// Wire is called by a Sender just before it puts a request of the given
// kind ("resolve", "send": requests a server limits separately) on the wire,
// and the done it returns just after the answer came back, with the
// request's error: a *FloodWaitError closes the flood gate at once, before
// the slot on the wire goes to another request. Wire waits until the engine
// lets another request of the kind onto the wire, and returns ErrGated
// instead if the flood gate closed (or the run stopped) meanwhile. Outside
// an engine's Send it returns at once.
func Wire(ctx context.Context, kind string) (done func(error), err error) {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil {
		return func(error) {}, nil
	}
	return a.r.wire.enter(a, kind)
}

// wire is the window of requests on the wire, per kind.
type wire struct {
	mu    sync.Mutex
	cond  *sync.Cond
	max   int // Options.Concurrency
	kinds map[string]*wireKind
}

// wireKind is one kind of request: how many are on the wire, and decaying
// sums over the Sends that ended of their time on the wire with requests of
// this kind, and of the rest of their time (less their waits for the wire
// and their requests of other kinds), in seconds.
type wireKind struct {
	on               int
	wireSum, restSum float64
}

// decay is how much of the past the sums keep at each Send: about the last
// ten Sends count.
const decay = 0.9

func newWire(conc int) *wire {
	w := &wire{max: conc, kinds: map[string]*wireKind{}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// window is how many requests of kind k may be on the wire at once: what
// the workers need by Little's law (their number times the share of their
// time such a request takes) and one more. The share leaves out time spent
// waiting for the wire, or a window that made Sends wait would shrink
// itself, and time spent on requests of other kinds, which a worker is not
// free to spend on this one: a Send that resolves and then sends, both
// taking the network's latency, needs a slot for each of its workers.
//
// It is never below a quarter of the workers. With no latency to hide, the
// time "on the wire" is mostly the CPU's (client and server encrypting,
// the server answering), and shrinks with the window: Little's law then
// undercounts what keeps the CPUs busy. Measured at 64 workers and no
// latency (bench row 5): a window of 4 took 4.3 s for 10,000 sends, 16 and
// 32 took 3.0 s, no window 3.4 s.
func (w *wire) window(k *wireKind) int {
	if k.restSum <= 0 {
		return w.max
	}
	share := min(k.wireSum/k.restSum, 1)
	n := int(math.Floor(float64(w.max)*share)) + 1
	return min(max(n, (w.max+3)/4), w.max)
}

func (w *wire) enter(a *attempt, kind string) (func(error), error) {
	r := a.r
	w.mu.Lock()
	k := w.kinds[kind]
	if k == nil {
		k = &wireKind{}
		w.kinds[kind] = k
	}
	if k.on >= w.window(k) {
		queued := time.Now()
		for k.on >= w.window(k) {
			w.cond.Wait()
		}
		a.queue += time.Since(queued)
	}
	k.on++
	w.mu.Unlock()
	if !r.gate.open() || r.halted() != nil {
		w.leave(a, kind, k, 0)
		return nil, ErrGated
	}
	start := time.Now()
	var once sync.Once
	return func(err error) {
		once.Do(func() {
			r.shutEarly(err)
			w.leave(a, kind, k, time.Since(start))
		})
	}, nil
}

// leave takes a request off the wire after d on it (0: it never went).
func (w *wire) leave(a *attempt, kind string, k *wireKind, d time.Duration) {
	w.mu.Lock()
	k.on--
	if d > 0 {
		if a.wire == nil {
			a.wire = map[string]time.Duration{}
		}
		a.wire[kind] += d
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

// sent records a whole Send of d.
func (w *wire) sent(a *attempt, d time.Duration) {
	w.mu.Lock()
	busy := d - a.queue
	var onWire time.Duration
	for _, x := range a.wire {
		onWire += x
	}
	for kind, k := range w.kinds {
		mine := a.wire[kind]
		k.wireSum = decay*k.wireSum + mine.Seconds()
		k.restSum = decay*k.restSum + max(busy-(onWire-mine), 0).Seconds()
	}
	clear(a.wire)
	a.queue = 0
	w.mu.Unlock()
	w.cond.Broadcast() // the windows may have grown
}
