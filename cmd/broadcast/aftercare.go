package main

// aftercare.go is what retract and edit share: choosing the broadcast and
// its recipients from the journal, connecting, running the engine with the
// outage and signal handling of send, and reporting each recipient.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// pickBroadcast is broadcast id, or the latest one when id is empty.
func pickBroadcast(st *store.Store, id string) (store.Broadcast, error) {
	if id != "" {
		b, err := st.LoadBroadcast(id)
		if errors.Is(err, store.ErrNotFound) {
			return b, usagef("`broadcast history` lists them", "no broadcast %q in the journal", id)
		}
		return b, err
	}
	bs, err := st.Broadcasts()
	if err != nil {
		return store.Broadcast{}, err
	}
	if len(bs) == 0 {
		return store.Broadcast{}, usagef("send one first", "there is no broadcast in the journal")
	}
	return bs[0], nil
}

// sameAccount refuses to act on a broadcast another account sent: private
// chat message ids are per account, so its ids would name this account's
// own, unrelated messages.
func sameAccount(b store.Broadcast, acct store.Account) error {
	if b.AccountID != 0 && b.AccountID != acct.ID {
		return usagef("log in as the account that sent it, or use a state dir of its own (--state-dir)",
			"broadcast %s was sent from account %d, and the logged-in account is %d", b.ID, b.AccountID, acct.ID)
	}
	return nil
}

// notScheduled refuses a --schedule broadcast: the journal has the ids of
// the scheduled messages, which Telegram replaces with new ones when it
// delivers them, and scheduled messages are deleted and edited by other
// methods (messages.deleteScheduledMessages). Acting on those ids could
// change unrelated messages.
func notScheduled(b store.Broadcast, verb string) error {
	spec, err := delivery.SpecOf(b)
	if err != nil || spec.Schedule.IsZero() {
		return nil
	}
	return usagef("change it in the Telegram app (the chat's scheduled messages)",
		"broadcast %s was scheduled for %s: broadcast cannot %s scheduled messages", b.ID, spec.Schedule.Local().Format("2006-01-02 15:04"), verb)
}

// chosenEntries are the journal entries of b a retract or edit acts on: the
// recipients it was sent to, all of them or those named with --to. A --to
// that is not a recipient of b is a usage error, before anything is done.
// pending are the recipients whose send's outcome is unknown. With sentOnly,
// entries that failed with some parts delivered are left out (an edit needs
// every part).
func chosenEntries(st *store.Store, b store.Broadcast, to []string, sentOnly bool) (chosen, pending []store.Entry, err error) {
	es, err := st.Entries(b.ID)
	if err != nil {
		return nil, nil, err
	}
	want := map[int]bool{} // indexes into es
	if len(to) > 0 {
		rs, err := recipient.ParseAll(splitCommas(to))
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rs {
			i := findEntry(st, es, r)
			if i < 0 {
				return nil, nil, usagef("`broadcast history "+b.ID+"` lists its recipients", "%s is not a recipient of broadcast %s", r.Input, b.ID)
			}
			want[i] = true
		}
	}
	for i, e := range es {
		if len(to) > 0 && !want[i] {
			continue
		}
		switch {
		case e.Status == store.EntrySent:
			chosen = append(chosen, e)
		case e.Status == store.EntryFailed && len(e.Messages()) > 0 && !sentOnly:
			// The parts of a split message that arrived before a later
			// part failed.
			chosen = append(chosen, e)
		case e.Status == store.EntryPending:
			pending = append(pending, e)
		}
	}
	return chosen, pending, nil
}

// findEntry is the index of r's entry in es, matched as written or by peer.
func findEntry(st *store.Store, es []store.Entry, r recipient.Recipient) int {
	for i, e := range es {
		if w, err := recipient.Parse(e.Recipient); err == nil && w.Key == r.Key {
			return i
		}
	}
	if p, ok, err := st.LookupPeer(r.PeerKey()); err == nil && ok {
		for i, e := range es {
			if e.PeerID == p.ID {
				return i
			}
		}
	}
	return -1
}

// openChange opens the state for a retract or edit (verb) of broadcast id
// (the latest when empty) and refuses one this account cannot act on. The
// caller closes the store.
func openChange(g *globals, id, verb string) (*store.Store, store.Account, store.Broadcast, error) {
	st, err := g.openStore()
	if err != nil {
		return nil, store.Account{}, store.Broadcast{}, err
	}
	acct, err := g.account(st)
	if err == nil {
		var b store.Broadcast
		if b, err = pickBroadcast(st, id); err == nil {
			if err = sameAccount(b, acct); err == nil {
				if err = notScheduled(b, verb); err == nil {
					return st, acct, b, nil
				}
			}
		}
	}
	st.Close()
	return nil, store.Account{}, store.Broadcast{}, err
}

// change is one retract or edit run: the words its report uses and the work
// it does once connected.
type change struct {
	g     *globals
	st    *store.Store
	acct  store.Account
	b     store.Broadcast
	verbs *verbs
	rep   *reporter
	limit func(telegram.Limits) time.Duration
	// unknown are recipients whose send's outcome is unknown (pending):
	// without a message id they fail with unknownErr.
	unknown    []store.Entry
	unknownErr error
	// work runs the engine for the rest; the limit is Telegram's for this
	// account.
	work func(ctx context.Context, c *telegram.Client, limit time.Duration) (fanout.Summary, error)
}

// start opens the report for total recipients (unknown ones included) and
// reports the unknown ones failed. The caller closes ch.rep.
func (ch *change) start(total int) {
	ch.rep = newReporter(ch.g, total)
	ch.rep.verbs = ch.verbs
	for _, e := range ch.unknown {
		ch.report(delivery.Change{Entry: e, Status: fanout.StatusFailed, Err: ch.unknownErr})
	}
}

// report is one recipient's outcome.
func (ch *change) report(c delivery.Change) { ch.rep.result(changeResult(c)) }

// run connects, reads the account's limits, does the work and maps the
// outcome to an exit code. A signal lets calls on the wire finish (as send
// does); a lost connection that does not come back stops the run.
func (ch *change) run(ctx context.Context) error {
	client, err := ch.g.sendingClient(ch.st)
	if err != nil {
		return err
	}
	var engine atomic.Bool
	clientCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if !engine.Load() {
			cancel()
			return
		}
		time.AfterFunc(inFlightGrace, cancel)
	})
	defer stop()
	engineCtx, stopEngine := context.WithCancelCause(ctx)
	defer stopEngine(nil)
	var (
		sum    fanout.Summary
		runErr error
		ran    bool
	)
	err = client.Run(clientCtx, func(cctx context.Context) error {
		defer context.AfterFunc(cctx, func() { stopEngine(context.Cause(cctx)) })()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		lim, err := client.Limits(cctx)
		if err != nil {
			return err
		}
		engine.Store(true)
		sum, runErr = ch.work(engineCtx, client, ch.limit(lim))
		sum.Total += len(ch.unknown)
		sum.Failed += len(ch.unknown)
		ran = true
		return nil
	})
	var lost *telegram.ConnectionLostError
	if ran && errors.As(context.Cause(engineCtx), &lost) {
		ch.summary(sum)
		return &outcomeError{code: exitFailure, msg: lost.Error(), hint: "nothing is lost: run the same command again when the server is reachable"}
	}
	if err == nil && !ran {
		err = context.Cause(ctx)
	}
	if err != nil {
		return err
	}
	ch.summary(sum)
	if runErr != nil {
		return fmt.Errorf("journal: %w", runErr)
	}
	return ch.outcome(sum)
}

func (ch *change) summary(sum fanout.Summary) { ch.rep.summary(ch.b.ID, sum) }

// outcome maps a finished retract or edit to its exit code.
func (ch *change) outcome(sum fanout.Summary) error {
	again := fmt.Sprintf("run the same command again to finish: recipients already %s are skipped", ch.verbs.done)
	switch {
	case sum.Stopped != nil:
		if errors.Is(sum.Stopped, telegram.ErrSessionRevoked) {
			return &outcomeError{code: exitAuth, msg: sum.Stopped.Error(), hint: "run `broadcast login` again, then " + again}
		}
		return &outcomeError{code: exitPartial, msg: "stopped: " + sum.Stopped.Error(), hint: again}
	case sum.Interrupted || sum.NotStarted > 0 || sum.Pending > 0:
		return &outcomeError{code: exitInterrupted, msg: "interrupted", hint: again}
	case sum.Failed > 0:
		return &outcomeError{code: exitPartial, msg: ""}
	}
	return nil
}

// engineOptions are the fan-out options of a run from its pacing flags.
func engineOptions(g *globals, o sendOptions, bot bool, rep *reporter) fanout.Options {
	rate := o.effectiveRate(bot)
	return fanout.Options{
		Concurrency: o.concurrency,
		// Calls keep retrying through an outage: the outage as a whole is
		// bounded by the client's reconnect wait.
		RetryFor:     max(fanout.DefaultRetryFor, g.reconnectWait+time.Minute),
		Rate:         rate,
		Burst:        max(1, int(rate)),
		MaxFloodWait: o.maxFloodWait,
		OnWait:       rep.wait,
		OnRetry: func(t fanout.Target, attempt int, err error, after time.Duration) {
			g.log.Debug("retry", "target", t.Recipient, "attempt", attempt, "after", after.Round(time.Millisecond), "err", err)
		},
	}
}

// changeResult turns one recipient's outcome into the reporter's result.
func changeResult(c delivery.Change) fanout.Result {
	return fanout.Result{
		Target:  fanout.Target{Recipient: c.Entry.Recipient},
		Receipt: fanout.Receipt{PeerID: c.Entry.PeerID, MessageID: c.Entry.MessageID},
		Status:  c.Status,
		Err:     c.Err,
	}
}

// confirm asks on the terminal; off a terminal the answer must be given
// with --yes, so that a script never acts on a question nobody saw. The
// wait for an answer ends on a signal.
func confirm(ctx context.Context, g *globals, question, flagHint string) error {
	if !g.io.inTTY {
		return usagef(flagHint, "stdin is not a terminal to ask on, and --yes is not given: nothing was done")
	}
	fmt.Fprintf(g.io.err, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(g.io.in).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(g.io.err)
		return context.Cause(ctx)
	case a := <-answer:
		if a == "y" || a == "yes" {
			return nil
		}
	}
	return &outcomeError{code: exitUsage, msg: "not confirmed: nothing was done"}
}

// pacingFlagValues are the flags send, retract and edit share, as given.
func pacingFlagValues(c *cli.Context) sendOptions {
	return sendOptions{
		messageFile:  c.String("message-file"),
		parseMode:    c.String("parse-mode"),
		concurrency:  c.Int("concurrency"),
		rate:         c.Float64("rate"),
		rateSet:      c.IsSet("rate"),
		maxFloodWait: c.Duration("max-flood-wait"),
		dryRun:       c.Bool("dry-run"),
	}
}

// pacingFrom reads the pacing flags of retract and edit (and edit's message
// flags), with the config's send: defaults under them.
func pacingFrom(c *cli.Context, g *globals) (sendOptions, error) {
	o := pacingFlagValues(c)
	o.applyConfig(c, g.cfg.Send)
	return o, o.check()
}
