package delivery

// retract.go takes a broadcast back: every recipient's messages are deleted
// for both sides, many recipients' ids in one call (private-chat and
// basic-group message ids are the account's own, so one
// messages.deleteMessages holds ids of any number of chats, up to its
// limit). A channel or supergroup numbers its messages itself, so its ids
// go in calls of their own, one channel each (channels.deleteMessages).
// Retracting is idempotent on
// Telegram's side (ids already gone are ignored), so the journal mark after
// each call is all a crash needs: a re-run repeats at most the call that was
// on the wire and skips every recipient already marked.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Deleter deletes messages for every side in one call of at most
// RetractOptions.PerCall ids: the account's own ids when channel is the
// zero Peer, else that channel's.
type Deleter interface {
	Delete(ctx context.Context, channel store.Peer, ids []int) (int, error)
}

// Change is the outcome of a retract or an edit for one recipient.
type Change struct {
	Entry store.Entry
	// Status is fanout's: sent (done now), skipped (done before), failed,
	// pending (interrupted on the wire) or not_sent (never tried).
	Status fanout.Status
	Err    error
}

// TooLateError: the message is older than Telegram lets the account retract
// or edit it.
type TooLateError struct {
	Code   string // MESSAGE_DELETE_FORBIDDEN or MESSAGE_EDIT_TIME_EXPIRED
	Verb   string // retract or edit
	Age    time.Duration
	Limit  time.Duration
	Bot    bool
	Remote error // Telegram's answer, when it said so rather than the journal
}

func (e *TooLateError) Error() string { return e.Code + ": " + e.Detail() }

// Detail is the error without its code: the message's age and the limit.
func (e *TooLateError) Detail() string {
	who := "this account"
	if e.Bot {
		who = "bots"
	}
	if e.Limit <= 0 {
		return fmt.Sprintf("sent %s ago; Telegram refused to %s it", Age(e.Age), e.Verb)
	}
	return fmt.Sprintf("sent %s ago, %s may %s for %s", Age(e.Age), who, e.Verb, Age(e.Limit))
}

func (e *TooLateError) Unwrap() error { return e.Remote }

// Age says a duration the way people say how long ago something was.
func Age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) < time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

// ErrUnknownMessageID: the journal has the recipient as sent but not the
// message's id (the server answered a resend with RANDOM_ID_DUPLICATE), so
// the message cannot be named to delete or edit it.
var ErrUnknownMessageID = errors.New("the message id is not in the journal (Telegram did not return it), so it cannot be changed from here")

// RetractOptions steer Retract.
type RetractOptions struct {
	// Limit is Telegram's revoke_pm_time_limit for the account; zero: none.
	Limit time.Duration
	Bot   bool
	Now   time.Time
	// PerCall is the most ids a call takes (telegram.DeleteMax).
	PerCall int
	// Whole: the broadcast is being taken back from everyone, so it is
	// marked retracted (and is never resumed) before the first call. A
	// retract from some recipients only leaves the broadcast as it is.
	Whole bool
	// Engine paces the calls: flood waits, retries and interruption work as
	// they do for sends. Its OnResult is not used.
	Engine fanout.Options
}

// Retract deletes the messages of entries (sent entries of broadcast b, as
// chosen by the caller) and reports each recipient through report, which is
// never called concurrently. The broadcast is marked retracted before the
// first call.
func Retract(ctx context.Context, st *store.Store, d Deleter, b store.Broadcast, entries []store.Entry, o RetractOptions, report func(Change)) (fanout.Summary, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.PerCall <= 0 {
		o.PerCall = 100
	}
	var sum fanout.Summary
	tally := func(c Change) {
		count(&sum, c.Status)
		report(c)
	}
	var todo []store.Entry
	scopes := map[int64]store.Peer{}
	for _, e := range entries {
		scope, scopeErr := scopeOf(st, e)
		switch ids := e.Messages(); {
		case !e.RetractedAt.IsZero():
			tally(Change{Entry: e, Status: fanout.StatusSkipped})
		case scopeErr != nil:
			tally(Change{Entry: e, Status: fanout.StatusFailed, Err: scopeErr})
		case len(ids) == 0 || slices.Contains(ids, 0):
			tally(Change{Entry: e, Status: fanout.StatusFailed, Err: ErrUnknownMessageID})
		case o.Limit > 0 && o.Now.Sub(e.Sent()) > o.Limit:
			// Certain from the journal's send time: no call.
			tally(Change{Entry: e, Status: fanout.StatusFailed, Err: &TooLateError{
				Code: "MESSAGE_DELETE_FORBIDDEN", Verb: "retract", Age: o.Now.Sub(e.Sent()), Limit: o.Limit, Bot: o.Bot}})
		default:
			scopes[e.PeerID] = scope
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return sum, nil
	}
	if o.Whole {
		if err := st.BeginRetract(b.ID, o.Now); err != nil {
			return sum, err
		}
	}
	r := &retractor{st: st, d: d, bid: b.ID, calls: batches(todo, scopes, o.PerCall), o: o, done: map[int64]Change{}}
	targets := make([]fanout.Target, len(r.calls))
	for i := range r.calls {
		targets[i] = fanout.Target{Index: i, Recipient: fmt.Sprintf("call %d", i+1)}
	}
	var journalErr error
	reached := make([]bool, len(r.calls))
	eng := o.Engine
	eng.OnResult = func(res fanout.Result) {
		reached[res.Target.Index] = true
		for _, c := range r.outcome(res) {
			if c.Status == fanout.StatusFailed {
				if err := st.MarkChangeFailed(b.ID, c.Entry.PeerID, c.Err.Error()); err != nil && journalErr == nil {
					journalErr = err
				}
			}
			tally(c)
		}
	}
	engSum := fanout.Run(ctx, targets, r, eng)
	// The recipients of calls a cancelled engine never started were not
	// retracted, and are reported so.
	for i, ok := range reached {
		if !ok {
			for _, e := range r.calls[i].entries {
				tally(Change{Entry: e, Status: fanout.StatusNotSent, Err: fanout.ErrNotSent})
			}
		}
	}
	sum.Stopped, sum.Interrupted, sum.Duration = engSum.Stopped, engSum.Interrupted, engSum.Duration
	return sum, journalErr
}

// count adds one outcome to a summary.
func count(sum *fanout.Summary, st fanout.Status) {
	sum.Total++
	switch st {
	case fanout.StatusSent:
		sum.Sent++
	case fanout.StatusSkipped:
		sum.Skipped++
	case fanout.StatusFailed:
		sum.Failed++
	case fanout.StatusPending:
		sum.Pending++
	default:
		sum.NotStarted++
	}
}

// call is one delete call's recipients, all of one scope: the account's own
// message ids (a zero channel), or one channel's.
type call struct {
	channel store.Peer
	entries []store.Entry
}

// batches packs entries into calls of at most perCall ids, never splitting
// one recipient's ids unless they alone are over the limit, and never
// mixing scopes: the account's ids first, then each channel's, in the order
// the entries came.
func batches(entries []store.Entry, scopes map[int64]store.Peer, perCall int) []call {
	var order []int64
	byScope := map[int64][]store.Entry{}
	for _, e := range entries {
		k := scopes[e.PeerID].ID // 0 for the account's own ids
		if _, ok := byScope[k]; !ok {
			order = append(order, k)
		}
		byScope[k] = append(byScope[k], e)
	}
	slices.SortStableFunc(order, func(a, b int64) int {
		switch {
		case a == 0 && b != 0:
			return -1
		case b == 0 && a != 0:
			return 1
		}
		return 0
	})
	var out []call
	for _, k := range order {
		var cur []store.Entry
		n := 0
		channel := scopes[byScope[k][0].PeerID]
		for _, e := range byScope[k] {
			ids := len(e.Messages())
			if n+ids > perCall && len(cur) > 0 {
				out, cur, n = append(out, call{channel, cur}), nil, 0
			}
			cur, n = append(cur, e), n+ids
		}
		if len(cur) > 0 {
			out = append(out, call{channel, cur})
		}
	}
	return out
}

// scopeOf is where e's message ids are numbered: the zero Peer for the
// account's own (a private chat, a basic group), or the channel's, from the
// peer cache, whose access hash channels.deleteMessages needs. The journal
// names a channel by its Bot API id (store/chats.go); an entry from before
// that names it by its own positive id, which only the cache tells apart
// from a user's.
func scopeOf(st *store.Store, e store.Entry) (store.Peer, error) {
	kind := store.KindOfID(e.PeerID)
	if kind == store.KindChat {
		return store.Peer{}, nil
	}
	p, ok, err := st.LookupPeer(fmt.Sprintf("id:%d", e.PeerID))
	switch {
	case err != nil:
		return store.Peer{}, err
	case ok && p.Kind == store.KindChannel:
		return p, nil
	case kind == store.KindChannel:
		return store.Peer{}, ErrPeerForgotten
	}
	return store.Peer{}, nil
}

// retractor is the fanout.Sender of a retract: one target per call.
type retractor struct {
	st    *store.Store
	d     Deleter
	bid   string
	calls []call
	o     RetractOptions

	mu   sync.Mutex
	done map[int64]Change // settled recipients by peer id
}

// Send deletes the ids of one call's recipients not settled yet. When
// Telegram refuses the call, one recipient's message may be the cause: each
// is then tried alone, so the others are still retracted.
func (r *retractor) Send(ctx context.Context, t fanout.Target) (fanout.Receipt, error) {
	channel := r.calls[t.Index].channel
	open := r.unsettled(r.calls[t.Index].entries)
	if len(open) == 0 {
		return fanout.Receipt{}, nil
	}
	err := r.delete(ctx, channel, open)
	if err == nil || !refused(err) {
		return fanout.Receipt{}, err
	}
	if len(open) == 1 {
		r.settle(open[0], fanout.StatusFailed, r.explain(open[0], err))
		return fanout.Receipt{}, nil
	}
	for _, e := range open {
		err := r.delete(ctx, channel, []store.Entry{e})
		switch {
		case err == nil:
		case refused(err):
			r.settle(e, fanout.StatusFailed, r.explain(e, err))
		default:
			return fanout.Receipt{}, err // the engine retries the rest
		}
	}
	return fanout.Receipt{}, nil
}

// delete deletes entries' messages in one call and journals them.
func (r *retractor) delete(ctx context.Context, channel store.Peer, entries []store.Entry) error {
	var ids []int
	peers := make([]int64, len(entries))
	for i, e := range entries {
		ids = append(ids, e.Messages()...)
		peers[i] = e.PeerID
	}
	for start := 0; start < len(ids); start += r.o.PerCall {
		if _, err := r.d.Delete(ctx, channel, ids[start:min(len(ids), start+r.o.PerCall)]); err != nil {
			return err
		}
	}
	at := time.Now()
	if err := r.st.MarkRetracted(r.bid, peers, at); err != nil {
		return fanout.Fatal(fmt.Errorf("write journal: %w", err))
	}
	for _, e := range entries {
		e.RetractedAt = at
		r.settle(e, fanout.StatusSent, nil)
	}
	return nil
}

// refused: Telegram answered the call with an error that another try would
// get again (not a flood wait, a lost connection or a dead session).
func refused(err error) bool {
	var fw *fanout.FloodWaitError
	return !errors.As(err, &fw) && !fanout.IsTemporary(err) && !fanout.IsFatal(err)
}

// explain words Telegram's refusal to delete e, with the message's age when
// the time limit is the likely reason.
func (r *retractor) explain(e store.Entry, err error) error {
	if strings.Contains(err.Error(), "MESSAGE_DELETE_FORBIDDEN") {
		return &TooLateError{Code: "MESSAGE_DELETE_FORBIDDEN", Verb: "retract", Age: time.Since(e.Sent()), Limit: r.o.Limit, Bot: r.o.Bot, Remote: err}
	}
	return err
}

func (r *retractor) unsettled(entries []store.Entry) []store.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var open []store.Entry
	for _, e := range entries {
		if _, ok := r.done[e.PeerID]; !ok {
			open = append(open, e)
		}
	}
	return open
}

func (r *retractor) settle(e store.Entry, st fanout.Status, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[e.PeerID] = Change{Entry: e, Status: st, Err: err}
}

// outcome is every recipient's outcome of one call: what Send settled, and
// the call's own result for the rest.
func (r *retractor) outcome(res fanout.Result) []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Change, 0, len(r.calls[res.Target.Index].entries))
	for _, e := range r.calls[res.Target.Index].entries {
		if c, ok := r.done[e.PeerID]; ok {
			out = append(out, c)
			continue
		}
		st := res.Status
		if st == fanout.StatusSent || st == fanout.StatusSkipped {
			st = fanout.StatusFailed // cannot happen: a call that succeeded settled everyone
		}
		out = append(out, Change{Entry: e, Status: st, Err: res.Err})
	}
	return out
}
