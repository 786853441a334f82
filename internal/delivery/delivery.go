// Package delivery makes a broadcast exactly-once. It names each broadcast
// (an id derived from the account, the content and the recipient set), derives
// every recipient's random_id from (broadcast id, peer id), decides whether a
// run resumes an unfinished (or just finished) broadcast or starts a new one,
// and keeps the journal: a recipient is marked pending while its send is on
// the wire (the mark commits alongside the request, not before it) and sent,
// with the message id, before its result is reported, so a crash at any
// point is resumed without a duplicate: the resend carries the same
// random_id. It drives the fan-out engine and knows neither gotd nor bbolt.
package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// ResumeWindow is how long an identical unfinished broadcast is resumed
// automatically; older ones need `broadcast resume ID`.
const ResumeWindow = 24 * time.Hour

// DefaultResendAfter is how long after an identical broadcast finished the
// same command still means the same broadcast. People re-run a command
// because it failed in part, because they are not sure it ran, because two
// cron entries overlap: none of them means "message everyone again". An
// hour covers those; a daily "good morning" is well outside it.
const DefaultResendAfter = time.Hour

// Spec is everything that identifies what a broadcast sends. It is journaled
// so `resume` can finish the broadcast without the original command line.
type Spec struct {
	Text      string    `json:"text"`
	ParseMode string    `json:"parse_mode"`
	Silent    bool      `json:"silent,omitempty"`
	NoPreview bool      `json:"no_preview,omitempty"`
	Schedule  time.Time `json:"schedule,omitzero"`
	// ScheduleInput is --schedule as written. A relative one ("+1h") is
	// identified by what was written, so re-running the same command an
	// hour later still resumes the same broadcast.
	ScheduleInput string       `json:"schedule_input,omitempty"`
	Template      bool         `json:"template,omitempty"`
	Split         bool         `json:"split,omitempty"`
	Attachments   []Attachment `json:"attachments,omitempty"`
	// Recipients as the user wrote them, in order.
	Recipients []string `json:"recipients"`
}

// SpecOf is the spec broadcast b was recorded with. Records before schema 2
// carry the recipients in the spec as well; later ones only in
// b.Recipients, which is the same list.
func SpecOf(b store.Broadcast) (Spec, error) {
	var spec Spec
	if err := json.Unmarshal(b.Spec, &spec); err != nil {
		return Spec{}, fmt.Errorf("broadcast %s: journal record is damaged: %w", b.ID, err)
	}
	if spec.Recipients == nil {
		spec.Recipients = b.Recipients
	}
	return spec, nil
}

// Attachment names a file and fixes its content by digest, so a changed
// file is a different broadcast.
type Attachment struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// BaseID derives a broadcast's id from the account, what is sent and the
// sorted canonical recipient keys. Pacing and output flags do not enter it.
func BaseID(accountID int64, spec Spec, keys []string) string {
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	id := struct {
		Account int64    `json:"account"`
		Spec    Spec     `json:"spec"`
		Keys    []string `json:"keys"`
	}{accountID, spec, sorted}
	id.Spec.Recipients = nil // the canonical keys stand for them
	if strings.HasPrefix(spec.ScheduleInput, "+") {
		id.Spec.Schedule = time.Time{}
	}
	b, _ := json.Marshal(id)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// RandomID is the random_id of every send of broadcast id to peer: the same
// in every retry and every process, different for every broadcast and peer.
func RandomID(broadcastID string, peerID int64, part int) int64 {
	h := sha256.New()
	h.Write([]byte(broadcastID))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(peerID))
	binary.BigEndian.PutUint64(b[8:], uint64(part))
	h.Write(b[:])
	v := int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
	if v == 0 {
		v = 1 // zero means "fill in a random one" to gotd
	}
	return v
}

// BeginOptions steer Begin.
type BeginOptions struct {
	// ID names the broadcast instead of deriving it; an existing one with
	// that id is resumed.
	ID string
	// New forces a fresh run even if an identical one is unfinished or
	// finished within ResendAfter.
	New bool
	// ResendAfter: an identical broadcast that finished less than this long
	// ago is the same broadcast (its delivered recipients are skipped, the
	// rest retried). Zero means a finished broadcast is never re-entered.
	ResendAfter time.Duration
	Now         time.Time
}

// Plan is the broadcast a run will work on.
type Plan struct {
	Broadcast store.Broadcast
	// Resumed: an earlier run of this broadcast is being finished.
	Resumed bool
	// Stale is an unfinished identical broadcast older than ResumeWindow
	// that was not resumed; the caller tells the user about it.
	Stale *store.Broadcast
	// WasFinished: a broadcast that had finished (a named one, or an
	// identical one within the resend window) is being run again; only
	// recipients it never delivered to are sent to.
	WasFinished bool
}

// ErrSpecMismatch: --id names a broadcast that sends something else.
var ErrSpecMismatch = errors.New("a broadcast with this id sends a different message or to different recipients")

// RetractedError: the broadcast a run would resume or re-enter was
// retracted; sending its rest would contradict that.
type RetractedError struct {
	ID string
	At time.Time
}

func (e *RetractedError) Error() string {
	return fmt.Sprintf("broadcast %s was retracted at %s", e.ID, e.At.Local().Format("2006-01-02 15:04"))
}

// Begin decides whether this run resumes an unfinished broadcast or starts a
// new one, and records it in the journal as running.
func Begin(st *store.Store, accountID int64, spec Spec, keys []string, o BeginOptions) (Plan, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	// The record keeps the list once, in Recipients; SpecOf puts it back.
	stored := spec
	stored.Recipients = nil
	specJSON, err := json.Marshal(stored)
	if err != nil {
		return Plan{}, err
	}
	base := BaseID(accountID, spec, keys)
	fresh := store.Broadcast{
		ID: base, BaseID: base, Run: 1, AccountID: accountID,
		Text: spec.Text, Spec: specJSON, Recipients: spec.Recipients,
		State: store.StateRunning, CreatedAt: o.Now,
	}
	var plan Plan
	switch {
	case o.ID != "":
		old, err := st.LoadBroadcast(o.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := notPruned(st, o.ID); err != nil {
				return Plan{}, err
			}
			fresh.ID = o.ID
			plan.Broadcast = fresh
		case err != nil:
			return Plan{}, err
		case old.BaseID != base:
			return Plan{}, fmt.Errorf("%w (%s)", ErrSpecMismatch, o.ID)
		default:
			// A named broadcast is idempotent: running it again completes
			// it rather than sending a second copy.
			plan.Broadcast, plan.Resumed = old, true
			plan.WasFinished = old.State == store.StateFinished
		}
	default:
		last, ok, err := st.LatestRun(base)
		if err != nil {
			return Plan{}, err
		}
		switch {
		case !ok:
			plan.Broadcast, err = nextRun(st, fresh, 0)
			if err != nil {
				return Plan{}, err
			}
		case !o.New && last.State != store.StateFinished && o.Now.Sub(last.UpdatedAt) < ResumeWindow:
			plan.Broadcast, plan.Resumed = last, true
		case !o.New && last.State == store.StateFinished && o.Now.Sub(last.UpdatedAt) < o.ResendAfter:
			// The same command again soon after: a retry, not a new
			// message to everyone.
			plan.Broadcast, plan.Resumed, plan.WasFinished = last, true, true
		default:
			if last.State != store.StateFinished && !o.New {
				stale := last
				plan.Stale = &stale
			}
			if plan.Broadcast, err = nextRun(st, fresh, last.Run); err != nil {
				return Plan{}, err
			}
		}
	}
	if plan.Resumed && !plan.Broadcast.RetractedAt.IsZero() {
		return Plan{}, &RetractedError{ID: plan.Broadcast.ID, At: plan.Broadcast.RetractedAt}
	}
	plan.Broadcast.State = store.StateRunning
	if err := st.SaveBroadcast(plan.Broadcast); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// Messenger is what delivery needs from Telegram.
type Messenger interface {
	// Resolve finds the peer for a recipient (from the cache when it can).
	Resolve(ctx context.Context, r recipient.Recipient) (store.Peer, error)
	// Send delivers the broadcast's message to p with the given random_id
	// base and returns	// the ids of its messages (one per part). Its errors are classified for
	// fanout.
	Send(ctx context.Context, r recipient.Recipient, p store.Peer, randomID func(part int) int64) ([]int, error)
}

// Run sends the broadcast to every recipient through the fan-out engine,
// journaling each one, and records how the run ended.
func Run(ctx context.Context, st *store.Store, m Messenger, b store.Broadcast, recips []recipient.Recipient, opts fanout.Options) (fanout.Summary, error) {
	targets := make([]fanout.Target, len(recips))
	for i, r := range recips {
		targets[i] = fanout.Target{Index: i, Recipient: r.Input}
	}
	// From here on a recipient is parsed again from its input when its turn
	// comes (recipientAt), so that a long list is held once, as the inputs
	// the targets name, and not also as 64-byte Recipients for the whole run.
	s := &sender{st: st, m: m, bid: b.ID, targets: targets, peerOf: map[int]int64{}, markOf: map[int]<-chan error{}, claims: map[int64]int{}}
	if err := s.loadDelivered(); err != nil {
		return fanout.Summary{}, err
	}
	// Results and waits reach the caller through the journaler (report.go),
	// which reports a result once its journal write is durable; a journal
	// that cannot be written stops the run.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.stop = stop
	j := newJournaler(st, b.ID, s, opts.OnResult, opts.OnWait)
	opts.OnResult = func(res fanout.Result) { j.push(event{res: &res}) }
	opts.OnWait = func(e fanout.WaitEvent) { j.push(event{wait: &e}) }
	start := time.Now()
	sum := fanout.Run(ctx, targets, s, opts)
	journalErr := j.close()
	j.adjust(&sum)
	sum.Duration = time.Since(start) // until the last mark is durable
	state := store.StateFinished
	switch {
	case sum.Stopped != nil:
		state = store.StateStopped
	case sum.Interrupted || sum.NotStarted > 0:
		state = store.StateInterrupted
	}
	if err := st.SetState(b.ID, state); err != nil && journalErr == nil {
		journalErr = err
	}
	return sum, journalErr
}

// sender is the fanout.Sender of one broadcast.
type sender struct {
	st  *store.Store
	m   Messenger
	bid string
	// targets are the recipients as given (parsed again by recipientAt).
	targets []fanout.Target
	stop    context.CancelCauseFunc // stops the run when the journal fails

	// delivered holds the journal's sent entries by recipient as written,
	// so a re-run settles them without a resolve, a rate token or a call.
	delivered map[string]store.Entry

	mu     sync.Mutex
	claims map[int64]int // peer id → the target index that sends to it
	// peerOf[i] is target i's resolved peer's id and markOf[i] the commit
	// of its sent mark, from Send until the journaler reports the result
	// and takes them (report.go): only targets in flight have them, so a
	// long list costs nothing here.
	peerOf map[int]int64
	markOf map[int]<-chan error
}

func (s *sender) loadDelivered() error {
	entries, err := s.st.Entries(s.bid)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	s.delivered = map[string]store.Entry{}
	for _, e := range entries {
		if e.Status == store.EntrySent {
			s.delivered[e.Recipient] = e
		}
	}
	return nil
}

// Settled implements fanout.Settler: a recipient the journal has as sent
// under the same spelling is skipped without touching the network.
func (s *sender) Settled(t fanout.Target) (fanout.Receipt, bool, error) {
	e, ok := s.delivered[t.Recipient]
	if !ok {
		return fanout.Receipt{}, false, nil
	}
	s.setPeer(t.Index, e.PeerID)
	if !s.claim(e.PeerID, t.Index) {
		s.setPeer(t.Index, 0) // dropped: no result will take it
		return fanout.Receipt{}, false, fanout.ErrDuplicate
	}
	return fanout.Receipt{PeerID: e.PeerID, MessageID: e.MessageID, Skipped: true}, true, nil
}

func (s *sender) Send(ctx context.Context, t fanout.Target) (fanout.Receipt, error) {
	r, err := recipient.Parse(t.Recipient)
	if err != nil {
		return fanout.Receipt{}, err // parsed once before the run began, so never
	}
	// Both calls may go to Telegram: the engine paces what is on the wire
	// (fanout.Wire) and says if the flood gate closed meanwhile.
	done, err := fanout.Wire(ctx, "resolve")
	if err != nil {
		return fanout.Receipt{}, err
	}
	p, err := s.m.Resolve(ctx, r)
	done(err)
	if err != nil {
		return fanout.Receipt{}, err
	}
	s.setPeer(t.Index, p.ID)
	if !s.claim(p.ID, t.Index) {
		// The same person named twice: one send and one line (chats.go).
		return fanout.Receipt{PeerID: p.ID}, s.duplicate(t.Index, p)
	}
	e, ok, err := s.st.Entry(s.bid, p.ID)
	if err != nil {
		return fanout.Receipt{}, fanout.Fatal(fmt.Errorf("read journal: %w", err))
	}
	if ok && e.Status == store.EntrySent {
		return fanout.Receipt{PeerID: p.ID, MessageID: e.MessageID, Skipped: true}, nil
	}
	// The pending mark is written before the send goes out and committed
	// while the request is in flight, instead of holding the send for a
	// commit of its own: it only tells `history` that an outcome is unknown.
	// What makes a crash safe is the fixed random_id (a resend is dropped by
	// Telegram) and the sent mark, which is durable before the recipient's
	// result is reported.
	if done, err = fanout.Wire(ctx, "send"); err != nil {
		return fanout.Receipt{PeerID: p.ID}, err
	}
	pending := s.st.MarkPendingAsync(s.bid, store.Entry{Recipient: r.Input, PeerID: p.ID})
	ids, err := s.m.Send(ctx, r, p, func(part int) int64 { return RandomID(s.bid, p.ID, part) })
	done(err)
	if perr := <-pending; perr != nil {
		return fanout.Receipt{PeerID: p.ID}, fanout.Fatal(fmt.Errorf("write journal: %w", perr))
	}
	if err != nil {
		// A split message can fail after its first parts arrived: keep
		// their ids, so `retract` can still take them back.
		if jerr := s.st.MarkPartsDelivered(s.bid, p.ID, ids); jerr != nil {
			return fanout.Receipt{PeerID: p.ID}, fanout.Fatal(fmt.Errorf("write journal: %w", jerr))
		}
		return fanout.Receipt{PeerID: p.ID}, err
	}
	// The sent mark commits while this worker takes its next recipient; the
	// journaler holds the result until it is durable (report.go).
	s.setMark(t.Index, s.st.MarkSentAsync(s.bid, p.ID, ids...))
	first := 0
	if len(ids) > 0 {
		first = ids[0]
	}
	return fanout.Receipt{PeerID: p.ID, MessageID: first}, nil
}

// recipientAt is target i's recipient, parsed again from its input (see
// Run); the zero Recipient for an input that no longer parses, which
// cannot happen for one that parsed before the run.
func (s *sender) recipientAt(i int) recipient.Recipient {
	r, _ := recipient.Parse(s.targets[i].Recipient)
	return r
}

// setPeer records target i's peer id while it is in flight; 0 forgets it.
func (s *sender) setPeer(i int, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == 0 {
		delete(s.peerOf, i)
		return
	}
	s.peerOf[i] = id
}

// takePeer returns and forgets target i's peer id (0: none).
func (s *sender) takePeer(i int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.peerOf[i]
	delete(s.peerOf, i)
	return id
}

func (s *sender) setMark(i int, m <-chan error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markOf[i] = m
}

// takeMark returns and forgets target i's sent mark (nil: none).
func (s *sender) takeMark(i int) <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.markOf[i]
	delete(s.markOf, i)
	return m
}

func (s *sender) claim(peer int64, idx int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, ok := s.claims[peer]; ok {
		return owner == idx
	}
	s.claims[peer] = idx
	return true
}
