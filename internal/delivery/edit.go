package delivery

// edit.go changes a broadcast's text everywhere through the same engine as
// sending. An edit is idempotent on Telegram's side (an unchanged text is
// MESSAGE_NOT_MODIFIED, which counts as done), so the journal records per
// recipient which edit it carries: a re-run skips those without a call, and
// a crash between the answer and the mark costs one repeated call.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Editor changes the messages ids sent to p to the new text, as p gets it.
type Editor interface {
	Edit(ctx context.Context, p store.Peer, ids []int) error
}

// EditDigest names an edit by what it makes the messages say.
func EditDigest(text, parseMode string) string {
	sum := sha256.Sum256([]byte(parseMode + "\x00" + text))
	return hex.EncodeToString(sum[:8])
}

// EditOptions steer Edit.
type EditOptions struct {
	Edit store.Edit
	// Limit is Telegram's edit_time_limit for the account; zero: none.
	Limit time.Duration
	Bot   bool
	Now   time.Time
	// Engine paces the edits as sends are paced. Its OnResult is not used.
	Engine fanout.Options
}

// Edit edits the messages of entries (sent entries of broadcast b) to
// o.Edit and reports each recipient through report, never concurrently.
func Edit(ctx context.Context, st *store.Store, ed Editor, b store.Broadcast, entries []store.Entry, o EditOptions, report func(Change)) (fanout.Summary, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var sum fanout.Summary
	tally := func(c Change) {
		count(&sum, c.Status)
		report(c)
	}
	var todo []store.Entry
	for _, e := range entries {
		switch ids := e.Messages(); {
		case e.Edit == o.Edit.Digest:
			tally(Change{Entry: e, Status: fanout.StatusSkipped})
		case len(ids) == 0 || slices.Contains(ids, 0):
			tally(Change{Entry: e, Status: fanout.StatusFailed, Err: ErrUnknownMessageID})
		case o.Limit > 0 && o.Now.Sub(e.Sent()) > o.Limit:
			tally(Change{Entry: e, Status: fanout.StatusFailed, Err: &TooLateError{
				Code: "MESSAGE_EDIT_TIME_EXPIRED", Verb: "edit", Age: o.Now.Sub(e.Sent()), Limit: o.Limit, Bot: o.Bot}})
		default:
			todo = append(todo, e)
		}
	}
	if err := st.SetEdit(b.ID, o.Edit); err != nil {
		return sum, err
	}
	if len(todo) == 0 {
		return sum, nil
	}
	es := &editSender{st: st, ed: ed, bid: b.ID, entries: todo, o: o, marks: make([]<-chan error, len(todo))}
	targets := make([]fanout.Target, len(todo))
	for i, e := range todo {
		targets[i] = fanout.Target{Index: i, Recipient: e.Recipient}
	}
	// Results are reported from one goroutine, each once its edited mark is
	// durable, so that no worker holds its slot for a commit (as sends do,
	// report.go); flood waits go the same way to keep the order.
	var journalErr error
	reached := make([]bool, len(todo))
	q := newInOrder()
	eng := o.Engine
	if onWait := eng.OnWait; onWait != nil {
		eng.OnWait = func(w fanout.WaitEvent) { q.push(func() { onWait(w) }) }
	}
	eng.OnResult = func(res fanout.Result) {
		reached[res.Target.Index] = true
		q.push(func() {
			e := todo[res.Target.Index]
			c := Change{Entry: e, Status: res.Status, Err: res.Err}
			switch res.Status {
			case fanout.StatusSent:
				if err := <-es.marks[res.Target.Index]; err != nil && journalErr == nil {
					// Edited, but the journal does not know: a re-run
					// repeats a harmless edit. The run ends in error.
					journalErr = err
				}
			case fanout.StatusFailed:
				c.Err = es.explain(e, res.Err)
				if err := st.MarkChangeFailed(b.ID, e.PeerID, c.Err.Error()); err != nil && journalErr == nil {
					journalErr = err
				}
			}
			tally(c)
		})
	}
	engSum := fanout.Run(ctx, targets, es, eng)
	q.close()
	// A cancelled engine reports nothing for the targets it never started.
	for i, ok := range reached {
		if !ok {
			tally(Change{Entry: todo[i], Status: fanout.StatusNotSent, Err: fanout.ErrNotSent})
		}
	}
	sum.Stopped, sum.Interrupted, sum.Duration = engSum.Stopped, engSum.Interrupted, engSum.Duration
	return sum, journalErr
}

type editSender struct {
	st      *store.Store
	ed      Editor
	bid     string
	entries []store.Entry
	o       EditOptions
	// marks[i] is the commit of entry i's edited mark, started when
	// Telegram confirmed the edit.
	marks []<-chan error
}

func (s *editSender) Send(ctx context.Context, t fanout.Target) (fanout.Receipt, error) {
	e := s.entries[t.Index]
	p, ok, err := s.st.LookupPeer(fmt.Sprintf("id:%d", e.PeerID))
	if err != nil {
		return fanout.Receipt{}, fanout.Fatal(fmt.Errorf("read peer cache: %w", err))
	}
	if !ok {
		return fanout.Receipt{PeerID: e.PeerID}, ErrPeerForgotten
	}
	ids := e.Messages()
	if err := s.ed.Edit(ctx, p, ids); err != nil {
		return fanout.Receipt{PeerID: e.PeerID}, err
	}
	s.marks[t.Index] = s.st.MarkEditedAsync(s.bid, e.PeerID, s.o.Edit.Digest, time.Now())
	return fanout.Receipt{PeerID: e.PeerID, MessageID: ids[0]}, nil
}

// ErrPeerForgotten: the recipient is no longer in the peer cache, so there
// is no access hash to name the chat with.
var ErrPeerForgotten = errors.New("this recipient is no longer in the peer cache; resolve it again with `broadcast resolve`")

// explain adds the message's age to Telegram's "too late".
func (s *editSender) explain(e store.Entry, err error) error {
	if err != nil && strings.Contains(err.Error(), "MESSAGE_EDIT_TIME_EXPIRED") {
		return &TooLateError{Code: "MESSAGE_EDIT_TIME_EXPIRED", Verb: "edit", Age: time.Since(e.Sent()), Limit: s.o.Limit, Bot: s.o.Bot, Remote: err}
	}
	return err
}
