package fanout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Target is one recipient as the user wrote it.
type Target struct {
	Index     int    // position in the input list
	Recipient string // as written, e.g. "@friend1"
}

// Receipt is what a successful Send returns.
type Receipt struct {
	PeerID    int64
	MessageID int
	Skipped   bool // already delivered in an earlier run; not sent again
}

// Sender delivers the message to one target. It is called concurrently from
// several goroutines. Its errors steer the engine: a *FloodWaitError pauses
// every worker, Temporary errors are retried, Fatal errors stop the run,
// ErrDuplicate drops the target, and anything else fails the target at once.
//
// The context passed to Send is never cancelled by the engine: a message
// already on the wire is allowed to finish when the run is interrupted.
type Sender interface {
	Send(ctx context.Context, t Target) (Receipt, error)
}

// Settler is implemented by a Sender that can tell, without asking the
// server, that a target needs no send (an earlier run delivered it). Such a
// target is reported skipped at once: it takes no rate token and makes no
// call, so re-running a delivered broadcast costs nothing. Settled returns
// ErrDuplicate like Send does; any other error falls back to Send.
type Settler interface {
	Settled(t Target) (Receipt, bool, error)
}

// Status is the outcome of one target.
type Status string

// The possible outcomes of a target.
const (
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	// StatusPending: a send was attempted but the run was interrupted
	// before its outcome was known; the message may have been delivered.
	// Resuming settles it without a duplicate (the random_id is fixed).
	StatusPending Status = "pending"
	// StatusNotSent: never attempted, or refused with a flood wait, when a
	// Fatal error stopped the run: certainly not delivered. Counted in
	// Summary.NotStarted.
	StatusNotSent Status = "not_sent"
)

// Result is the outcome of one target, reported through Options.OnResult.
type Result struct {
	Target   Target
	Receipt  Receipt
	Status   Status
	Err      error // nil unless failed or pending
	Attempts int   // Send calls made for this target
	// Duration runs from the start of the first attempt to the end; zero if
	// the target was never attempted.
	Duration time.Duration
}

// Summary totals a run. Sent+Failed+Skipped+Pending+NotStarted == Total.
type Summary struct {
	Total   int // targets, less those dropped as ErrDuplicate
	Sent    int
	Failed  int
	Skipped int
	Pending int // attempted, outcome unknown (the run was interrupted)
	// NotStarted counts targets that certainly did not get the message:
	// after a cancellation they get no Result, after a Fatal stop one with
	// StatusNotSent, so the user sees what was not sent and why.
	NotStarted int
	Duration   time.Duration
	Stopped    error // the Fatal error that stopped the run, if any
	// Interrupted is true if the cancellation of ctx left a target undone:
	// one was never attempted, or its retries were cut short.
	Interrupted bool
}

// WaitEvent announces a flood wait that pauses every worker.
type WaitEvent struct {
	Wait   time.Duration
	Until  time.Time
	Target Target // the target whose send got the flood wait
}

// Options tunes a run. The zero value is usable: one send at a time, no rate
// limit, default flood-wait and retry limits, no callbacks.
type Options struct {
	Concurrency  int           // max targets in flight; <=0 means 1
	Rate         float64       // max Send calls per second across all workers (every attempt counts); <=0 = unlimited
	Burst        int           // limiter burst; <=0 means 1
	MaxFloodWait time.Duration // a flood wait longer than this fails the waiting target instead; 0 = DefaultMaxFloodWait, NeverWait = fail at once
	RetryFor     time.Duration // total time a target keeps retrying Temporary errors; 0 = DefaultRetryFor
	// OnResult is called once per target as it finishes, never concurrently
	// with itself or OnWait. It may be nil.
	OnResult func(Result)
	// OnWait is called when the flood gate closes or its closing is
	// extended, never concurrently with itself or OnResult. It may be nil.
	OnWait func(WaitEvent)
	// OnRetry is called before a target is retried after a temporary
	// error, with the error and the backoff; it may be called concurrently.
	// It may be nil.
	OnRetry func(t Target, attempt int, err error, after time.Duration)
}

// Defaults for the zero values of Options.
const (
	DefaultMaxFloodWait = 5 * time.Minute
	DefaultRetryFor     = 2 * time.Minute
	// NeverWait as MaxFloodWait fails a target at its first flood wait
	// instead of sitting it out.
	NeverWait time.Duration = -1
)

const (
	minFloodWait = time.Second // servers that say "wait 0s" still mean "slow down"
	// maxFloodWaits bounds how many flood waits one target sits out, so that a
	// server that keeps answering with flood waits cannot keep a run alive forever.
	maxFloodWaits  = 20
	initialBackoff = 500 * time.Millisecond
	maxBackoff     = 10 * time.Second
)

// Run sends to every target through s and returns when each one has finished
// or been given up. It never returns early on a target's failure: each target
// gets its own Result.
//
// Cancelling ctx stops waiting (rate limiter, flood gate, backoff) and starts
// no new target, but sends already on the wire complete. A Fatal error from
// the Sender stops the run the same way, and every undelivered target is
// reported with an error wrapping ErrNotSent and the fatal cause.
func Run(ctx context.Context, targets []Target, s Sender, opts Options) Summary {
	start := time.Now()
	r := newRun(ctx, s, opts)
	defer r.stop()

	// Not errgroup.WithContext: it cancels every goroutine on the first
	// error, and one recipient's failure must not cancel the others. Every
	// goroutine returns nil; failures become that target's Result, and a
	// Fatal stop goes through r.stopCtx instead.
	var g errgroup.Group
	g.SetLimit(max(opts.Concurrency, 1))
	for i, t := range targets {
		// After a Fatal stop every remaining target is reported, so that
		// the user sees what was not sent and why; after a cancellation
		// they are only counted, because the user chose to stop.
		if fatal := r.fatalErr(); fatal != nil {
			r.finish(Result{Target: t, Status: StatusNotSent, Err: notSent(fatal)}, time.Time{})
			continue
		}
		if ctx.Err() != nil {
			r.mu.Lock()
			r.sum.NotStarted += len(targets) - i
			r.sum.Interrupted = true
			r.mu.Unlock()
			break
		}
		g.Go(func() error {
			r.send(t)
			return nil
		})
	}
	_ = g.Wait() // always nil, see above

	r.sum.Total = len(targets) - r.duplicates
	r.sum.Stopped = r.fatalErr()
	r.sum.Duration = time.Since(start)
	return r.sum
}

// run is the state shared by the workers of one Run.
type run struct {
	ctx     context.Context // the caller's: its cancellation interrupts the run
	stopCtx context.Context // ctx, also cancelled by the first Fatal error; all waiting uses it
	stop    context.CancelFunc
	sendCtx context.Context // ctx without its cancellation, for Send
	fatal   atomic.Pointer[error]

	sender  Sender
	limiter atomic.Pointer[rate.Limiter] // rate.Inf when unlimited
	wire    *wire
	// Learning the server's rate (see wall and opened), guarded by gate.mu. An
	// epoch runs from one opening of the gate to the next wall; accepted
	// counts the sends the server took that started in the current epoch
	// (prev those of the one before, whose rate is due at the next
	// opening).
	epoch       int
	epochStart  time.Time
	accepted    int
	prev        int
	learnDue    bool
	wallSpan    time.Duration // from the last epoch's start to its wall, plus the wait
	wallWait    time.Duration
	learnedOnce bool
	unannounced bool // shutEarly closed the gate; closeGate has not said so yet
	// ceiling is the rate the user allowed (rate.Inf when none); a learned
	// rate climbs back towards it while no flood wait comes.
	ceiling      rate.Limit
	raisedAt     time.Time
	gate         gate
	maxFloodWait time.Duration
	retryFor     time.Duration
	onResult     func(Result)
	onWait       func(WaitEvent)
	onRetry      func(Target, int, error, time.Duration)

	mu         sync.Mutex // serialises the callbacks and guards the counts below
	sum        Summary
	duplicates int
}

func newRun(ctx context.Context, s Sender, opts Options) *run {
	stopCtx, stop := context.WithCancel(ctx)
	r := &run{
		ctx:          ctx,
		stopCtx:      stopCtx,
		stop:         stop,
		sender:       s,
		wire:         newWire(max(opts.Concurrency, 1)),
		maxFloodWait: opts.MaxFloodWait,
		retryFor:     opts.RetryFor,
		onResult:     opts.OnResult,
		onWait:       opts.OnWait,
		onRetry:      opts.OnRetry,
	}
	switch {
	case r.maxFloodWait == NeverWait:
		r.maxFloodWait = 0
	case r.maxFloodWait <= 0:
		r.maxFloodWait = DefaultMaxFloodWait
	}
	if r.retryFor <= 0 {
		r.retryFor = DefaultRetryFor
	}
	// Sends run to their end even when the run is interrupted.
	r.sendCtx = context.WithoutCancel(ctx)
	lim := rate.NewLimiter(rate.Inf, 1)
	if opts.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(opts.Rate), max(opts.Burst, 1))
	}
	r.limiter.Store(lim)
	r.ceiling = lim.Limit()
	r.epochStart = time.Now()
	return r
}

// send runs one target to its end: delivered, failed, or given up because the
// run was stopped or interrupted.
func (r *run) send(t Target) {
	res := Result{Target: t}
	var (
		start   time.Time     // of the first attempt
		gated   time.Duration // spent at the flood gate since then; not charged to RetryFor
		floods  int
		backoff = initialBackoff
		lastErr error
	)
	if r.settled(res) {
		return
	}
	// The Send finds the engine through its context (Wire).
	a := &attempt{r: r}
	ctx := context.WithValue(r.sendCtx, attemptKey{}, a)
	for {
		waited, epoch, err := r.ready()
		if err != nil {
			r.abandon(res, start, lastErr)
			return
		}
		if res.Attempts == 0 {
			start = time.Now()
		} else {
			gated += waited
		}
		res.Attempts++
		sendStart := time.Now()
		rc, err := r.sender.Send(ctx, t)
		r.wire.sent(a, time.Since(sendStart))

		var fw *FloodWaitError
		if errors.Is(err, ErrGated) {
			// Nothing went out: back to the gate, no attempt made.
			res.Attempts--
			continue
		}
		if !errors.As(err, &fw) && !IsTemporary(err) {
			r.took(epoch)
		}
		switch {
		case err == nil:
			res.Receipt = rc
			res.Status = StatusSent
			if rc.Skipped {
				res.Status = StatusSkipped
			}
			r.finish(res, start)
			return

		case errors.Is(err, ErrDuplicate):
			r.mu.Lock()
			r.duplicates++
			r.mu.Unlock()
			return

		case IsFatal(err):
			r.halt(err)
			r.fail(res, start, err)
			return

		case errors.As(err, &fw):
			wait := max(fw.Wait, minFloodWait)
			if wait > r.maxFloodWait {
				r.fail(res, start, &FloodWaitTooLongError{Wait: wait, Max: r.maxFloodWait, Err: fw})
				return
			}
			floods++
			if floods >= maxFloodWaits {
				r.fail(res, start, fmt.Errorf("gave up after %d flood waits: %w", floods, err))
				return
			}
			// Once stopped, nobody will wait at the gate, so announcing a
			// wait would only mislead; ready reports the stop instead.
			if r.halted() == nil {
				r.closeGate(wait, t)
			}

		case IsTemporary(err):
			used := time.Since(start) - gated
			if used >= r.retryFor {
				r.fail(res, start, err)
				return
			}
			d := min(jitter(backoff), r.retryFor-used)
			backoff = min(2*backoff, maxBackoff)
			if r.onRetry != nil {
				r.onRetry(t, res.Attempts, err, d)
			}
			if sleep(r.stopCtx, d) != nil {
				r.abandon(res, start, err)
				return
			}

		default:
			r.fail(res, start, err)
			return
		}
		lastErr = err
	}
}

// settled reports a target that needs no send (see Settler) and reports
// whether it did.
func (r *run) settled(res Result) bool {
	st, ok := r.sender.(Settler)
	if !ok {
		return false
	}
	rc, done, err := st.Settled(res.Target)
	switch {
	case errors.Is(err, ErrDuplicate):
		r.mu.Lock()
		r.duplicates++
		r.mu.Unlock()
		return true
	case err != nil || !done:
		return false
	}
	res.Receipt, res.Status = rc, StatusSkipped
	r.finish(res, time.Time{})
	return true
}

// ready blocks until the next attempt may start: the flood gate is open and
// the rate limiter has granted a token. It returns the time spent at the gate,
// the learning epoch the attempt belongs to, and an error if the run was
// stopped or interrupted meanwhile.
func (r *run) ready() (gated time.Duration, epoch int, err error) {
	for {
		waited, err := r.gate.wait(r.stopCtx)
		gated += waited
		if err != nil {
			return gated, 0, err
		}
		r.opened()
		r.raise()
		if err := r.limiter.Load().Wait(r.stopCtx); err != nil {
			// Wait fails at once when ctx's deadline comes before the
			// next token; no send can happen before then, so the target
			// is interrupted, just not yet.
			if _, ok := r.stopCtx.Deadline(); ok {
				<-r.stopCtx.Done()
			}
			return gated, 0, err
		}
		// Another worker may have hit a flood wait while this one waited
		// for a token: the token is wasted, but sending now would only earn
		// another flood wait.
		r.gate.mu.Lock()
		open, epoch := !time.Now().Before(r.gate.until), r.epoch
		r.gate.mu.Unlock()
		if open {
			return gated, epoch, r.halted()
		}
	}
}

// halted returns an error once the run is stopped or interrupted. It asks
// the caller's ctx too: a cancellation reaches stopCtx an instant later, and
// no send may start in that instant.
func (r *run) halted() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return r.stopCtx.Err()
}

// halt records the first Fatal error and stops the run.
func (r *run) halt(err error) {
	r.fatal.CompareAndSwap(nil, &err)
	r.stop()
}

// fatalErr returns the error that stopped the run, or nil.
func (r *run) fatalErr() error {
	if p := r.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// closeGate pauses every worker for wait and announces it, unless the gate is
// already closed until later. The announcement is made under the gate's lock
// so that OnWait sees extensions in order (lock order: gate.mu, then r.mu).
func (r *run) closeGate(wait time.Duration, t Target) {
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	if !r.shut(wait) && !r.unannounced {
		return
	}
	r.unannounced = false
	if r.onWait != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.onWait(WaitEvent{Wait: wait, Until: r.gate.until, Target: t})
	}
}

// shut closes the gate for wait from now, unless it is closed until later
// already, and reports whether it did. Called with gate.mu held.
func (r *run) shut(wait time.Duration) bool {
	now := time.Now()
	until := now.Add(wait)
	if !until.After(r.gate.until) {
		return false
	}
	// Learn only from a fresh wall: the flood waits of sends that were
	// already in flight when the gate closed say nothing new about the rate.
	if !now.Before(r.gate.until) {
		r.wall(now, wait)
	}
	r.gate.until = until
	return true
}

// shutEarly closes the gate as soon as a Sender's request comes back with a
// flood wait (Wire's done), before its slot on the wire can go to another
// request; closeGate announces it when the Send returns.
func (r *run) shutEarly(err error) {
	var fw *FloodWaitError
	if !errors.As(err, &fw) {
		return
	}
	wait := max(fw.Wait, minFloodWait)
	if wait > r.maxFloodWait || r.halted() != nil {
		return // the target fails instead, or nobody waits
	}
	r.gate.mu.Lock()
	if r.shut(wait) {
		r.unannounced = true
	}
	r.gate.mu.Unlock()
}

// Learning the server's rate. A server that limits sends refuses them with
// a flood wait once its allowance is spent; the sends it took from the start
// of an epoch (the run's start, or the gate's last opening) until that wall
// are what it allows over that span plus the wait it asks for, during which
// it refills. Pacing a little under that rate from the wall on meets the
// limit once rather than on every burst. The count waits until the gate
// opens again, so that sends still on the wire at the wall are counted too.
const (
	// minLearnedRate is the floor of a learned rate: slow, but moving.
	minLearnedRate = 0.1
	// learnMargin paces under the rate measured, which cannot be exact
	// (the wait is in whole seconds, the clocks are not the server's).
	learnMargin = 0.99
	// probeEvery and probeStep: with no rate given, a learned rate is
	// raised by half after each probeEvery without a flood wait, so
	// that a server that raised its limit is found again; one that did
	// not answers with a wall, and the rate is learned anew.
	probeEvery = 30 * time.Second
	probeStep  = 1.5
)

// took counts a send the server took (delivered or refused for good, not
// told to wait) that started in the given epoch.
func (r *run) took(epoch int) {
	r.gate.mu.Lock()
	switch epoch {
	case r.epoch:
		r.accepted++
	case r.epoch - 1:
		r.prev++
	}
	r.gate.mu.Unlock()
}

// wall ends the current epoch at a fresh flood wait. Called with gate.mu
// held.
func (r *run) wall(now time.Time, wait time.Duration) {
	r.prev, r.accepted = r.accepted, 0
	r.epoch++
	r.wallSpan = now.Sub(r.epochStart) + wait
	r.wallWait = wait
	r.learnDue = true
}

// opened sets the pacing learned from the last wall when the gate opens
// after it, and starts the next epoch.
func (r *run) opened() {
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	now := time.Now()
	if !r.learnDue || now.Before(r.gate.until) {
		return
	}
	r.learnDue = false
	r.epochStart, r.raisedAt = now, now
	if r.prev == 0 || r.wallSpan <= 0 {
		return
	}
	learned := max(learnMargin*float64(r.prev)/r.wallSpan.Seconds(), minLearnedRate)
	if rate.Limit(learned) >= r.limiter.Load().Limit() {
		return // learning only ever slows down; raise speeds up
	}
	// While everyone waited, the server refilled about as many sends as
	// the rate earns in that time: a fresh limiter starts with them, so
	// they go at once, and then the learned pace holds.
	r.limiter.Store(rate.NewLimiter(rate.Limit(learned), max(1, int(learned*r.wallWait.Seconds()))))
	r.learnedOnce = true
}

// raise lets a learned rate climb back while the server says nothing: by a
// tenth a second towards the rate the user set (the estimate from one wall
// errs low, and a user who gave the server's real rate should get it), or,
// with no rate given, by half every probeEvery (a server may raise its
// limit; one that did not answers with a wall, and the rate is learned
// again).
func (r *run) raise() {
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	now := time.Now()
	lim := r.limiter.Load()
	cur := lim.Limit()
	if !r.learnedOnce || now.Before(r.gate.until) {
		return
	}
	switch {
	case r.ceiling == rate.Inf:
		if now.Sub(r.raisedAt) >= probeEvery {
			lim.SetLimit(cur * probeStep)
			r.raisedAt = now
		}
	case cur < r.ceiling && now.Sub(r.raisedAt) >= time.Second:
		lim.SetLimit(min(r.ceiling, cur*1.1))
		r.raisedAt = now
	}
}

// abandon ends a target that was waiting when the run was stopped or
// interrupted. lastErr is the error of its last attempt, if any.
func (r *run) abandon(res Result, start time.Time, lastErr error) {
	var fw *FloodWaitError
	certainlyNot := res.Attempts == 0 || errors.As(lastErr, &fw)
	if fatal := r.fatalErr(); fatal != nil {
		res.Status, res.Err = StatusPending, notSent(fatal)
		if certainlyNot {
			res.Status = StatusNotSent
		}
		r.finish(res, start)
		return
	}
	if certainlyNot {
		// Never sent, or refused with a flood wait: certainly not
		// delivered, just not done.
		r.mu.Lock()
		r.sum.NotStarted++
		r.sum.Interrupted = true
		r.mu.Unlock()
		return
	}
	// It was attempted: the message may have arrived (an answer lost with
	// the connection), so its outcome is unknown, not failed.
	res.Status = StatusPending
	res.Err = fmt.Errorf("%w while waiting to retry: %w", ErrInterrupted, lastErr)
	r.finish(res, start)
}

func (r *run) fail(res Result, start time.Time, err error) {
	res.Status = StatusFailed
	res.Err = err
	r.finish(res, start)
}

// finish counts a finished target and reports it.
func (r *run) finish(res Result, start time.Time) {
	if !start.IsZero() {
		res.Duration = time.Since(start)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch res.Status {
	case StatusSent:
		r.sum.Sent++
	case StatusSkipped:
		r.sum.Skipped++
	case StatusFailed:
		r.sum.Failed++
	case StatusPending:
		r.sum.Pending++
		r.sum.Interrupted = r.sum.Interrupted || r.fatalErr() == nil
	case StatusNotSent:
		r.sum.NotStarted++
	}
	if r.onResult != nil {
		r.onResult(res)
	}
}

// jitter spreads retries over [d/2, d) so that workers that failed together
// do not retry together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2)
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
