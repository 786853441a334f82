package delivery

// report.go keeps the journal off the workers' path. A worker that has
// Telegram's answer starts its sent mark's commit and takes its next
// recipient at once; the recipient's result waits in a queue until the mark
// is durable, and only then is it reported. So "sent" is in the journal
// before its line is printed and before Run returns, yet no worker holds its
// slot for a commit (a crash between the answer and the commit is safe: the
// resend carries the same random_id and Telegram keeps one copy).

import (
	"errors"
	"fmt"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// event is a result or a flood-wait announcement from the engine, in the
// order the engine reported them.
type event struct {
	res  *fanout.Result
	wait *fanout.WaitEvent
}

// journaler reports the engine's events to the caller's callbacks from one
// goroutine (inOrder), in order, each result once its journal write is
// durable. Like the engine's own callbacks, the caller's never run
// concurrently.
type journaler struct {
	st     *store.Store
	bid    string
	s      *sender
	report func(fanout.Result)
	wait   func(fanout.WaitEvent)
	q      *inOrder

	// err and moved are touched only by q's goroutine until close returns.
	err   error         // the first journal error
	moved map[int]error // results reported pending instead of sent: index → cause
}

func newJournaler(st *store.Store, bid string, s *sender, report func(fanout.Result), wait func(fanout.WaitEvent)) *journaler {
	return &journaler{st: st, bid: bid, s: s, report: report, wait: wait, q: newInOrder(), moved: map[int]error{}}
}

// push queues an event; it never blocks the engine.
func (j *journaler) push(ev event) {
	j.q.push(func() {
		if ev.wait != nil {
			if j.wait != nil {
				j.wait(*ev.wait)
			}
			return
		}
		j.result(*ev.res)
	})
}

// close reports what is queued and returns once every write is durable and
// every event reported. It returns the first journal error.
func (j *journaler) close() error {
	j.q.close()
	return j.err
}

// result journals one result (waits for its sent mark, or writes its
// failure) and reports it.
func (j *journaler) result(res fanout.Result) {
	i := res.Target.Index
	peerID := j.s.takePeer(i)
	switch res.Status {
	case fanout.StatusSent:
		if err := j.s.durable(i); err != nil {
			// Delivered, but the journal does not know it: a resume
			// settles it without a second copy, so it is pending, not
			// sent, and the run stops (see Run).
			j.fail(err)
			j.moved[i] = err
			res.Status = fanout.StatusPending
			res.Err = fmt.Errorf("%w: delivered, but the journal could not record it: %w", fanout.ErrInterrupted, err)
		}
	case fanout.StatusFailed:
		if res.Receipt.PeerID == 0 {
			res.Receipt.PeerID = peerID
		}
		// A recipient that was never sent to is simply not confirmed;
		// only a real failure is journaled as one.
		if !errors.Is(res.Err, fanout.ErrNotSent) && !errors.Is(res.Err, fanout.ErrInterrupted) {
			if err := j.st.MarkFailed(j.bid, peerID, res.Target.Recipient, res.Err.Error()); err != nil {
				j.fail(err)
			}
		}
	}
	if j.report != nil {
		j.report(res)
	}
}

func (j *journaler) fail(err error) {
	if j.err == nil {
		j.err = err
		if j.s.stop != nil {
			j.s.stop(err)
		}
	}
}

// adjust moves the results reported pending instead of sent in sum.
func (j *journaler) adjust(sum *fanout.Summary) {
	sum.Sent -= len(j.moved)
	sum.Pending += len(j.moved)
	if len(j.moved) > 0 {
		sum.Interrupted = true
	}
}

// durable waits for target i's sent mark, if it has one, and returns the
// commit's error.
func (s *sender) durable(i int) error {
	m := s.takeMark(i)
	if m == nil {
		return nil
	}
	if err := <-m; err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}
