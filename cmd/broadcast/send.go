package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/recipient"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// Pacing defaults. Telegram publishes no limit for user accounts, and
// messaging many non-contacts quickly brings PEER_FLOOD, so users go slowly;
// bots are allowed about 30 messages a second to different users.
const (
	defaultConcurrency = 8
	maxConcurrency     = 1000
	defaultUserRate    = 5.0
	defaultBotRate     = 25.0
)

// sendOptions is everything `send` needs, filled from flags, env and config.
type sendOptions struct {
	message      string
	hasMessage   bool
	messageFile  string
	to           []string
	lists        []string
	toFile       string
	parseMode    string
	silent       bool
	noPreview    bool
	concurrency  int
	rate         float64
	rateSet      bool
	maxFloodWait time.Duration
	dryRun       bool
	id           string
	fresh        bool
	attach       []string
	schedule     string
	template     bool
	split        bool
	resendAfter  time.Duration
	lockWait     time.Duration // --wait: how long to wait for another run's state dir
}

// pacingFlags are the flags of every command that sends through the engine
// (send, resume): how fast, and how long to sit out a flood wait.
func pacingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Usage: "sends in flight at once", DefaultText: fmt.Sprintf("%d, or send.concurrency", defaultConcurrency)},
		&cli.Float64Flag{Name: "rate", Usage: "at most `R` messages per second, 0 for no limit", DefaultText: fmt.Sprintf("%g for users, %g for bots, or send.rate", defaultUserRate, defaultBotRate)},
		&cli.DurationFlag{Name: "max-flood-wait", Usage: "fail recipients instead of waiting longer than this for Telegram's flood limit; 0 never waits", DefaultText: fmt.Sprintf("%s, or send.max_flood_wait", fmtDuration(fanout.DefaultMaxFloodWait))},
	}
}

func sendFlags() []cli.Flag {
	return append(pacingFlags(), []cli.Flag{
		&cli.StringSliceFlag{Name: "to", Usage: "recipient `R` (repeatable; comma lists allowed): @name, t.me/name, +15551234567, a cached id, me; a group or channel by @name or t.me/c/ID, a forum topic as @name/TOPIC"},
		&cli.StringSliceFlag{Name: "list", Usage: "a list `NAME` from the config (repeatable)"},
		&cli.StringFlag{Name: "to-file", Usage: "read recipients from `FILE`, one a line, # comments"},
		&cli.StringFlag{Name: "message-file", Usage: "read the message from `FILE`"},
		&cli.StringFlag{Name: "parse-mode", Usage: "plain, markdown or html", DefaultText: "plain, or send.parse_mode"},
		&cli.BoolFlag{Name: "silent", Usage: "deliver without a notification sound"},
		&cli.BoolFlag{Name: "no-preview", Usage: "do not show link previews"},
		&cli.StringSliceFlag{Name: "attach", Usage: "attach `FILE` (repeatable: several go as one album); images go as photos, the rest as documents, the message as the caption"},
		&cli.StringFlag{Name: "schedule", Usage: "deliver at `TIME`: RFC 3339 (2026-12-24T18:00:00+01:00) or from now (+1h30m); Telegram holds it, so this machine may be off"},
		&cli.BoolFlag{Name: "template", Usage: "fill {first_name}, {last_name} and {username} for each recipient"},
		&cli.BoolFlag{Name: "split", Usage: "send a text over Telegram's 4096-character limit as several messages"},
		&cli.DurationFlag{Name: "resend-after", Usage: "an identical command within this long of a finished one retries it instead of sending again; 0 always sends anew", DefaultText: fmt.Sprintf("%s, or send.resend_after", fmtDuration(delivery.DefaultResendAfter))},
		&cli.GenericFlag{Name: "wait", Value: &waitFlag{}, Usage: "if another broadcast holds the state dir, wait for it (up to `DURATION` with --wait=DURATION) instead of failing"},
		&cli.BoolFlag{Name: "dry-run", Usage: "check everything and show what would be sent, without connecting"},
		&cli.StringFlag{Name: "id", Usage: "name the broadcast `ID` instead of deriving it (re-running it sends only to the rest)"},
		&cli.BoolFlag{Name: "new", Usage: "start a new broadcast even if an identical one is unfinished"},
	}...)
}

func sendCommand(ios *streams) *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send a message to recipients and report each outcome",
		ArgsUsage: "[MESSAGE | -]",
		Description: `With no recipient flag the config's default_list is used. With no MESSAGE, or -,
the message is read from stdin (one trailing newline is dropped).

Examples:
  broadcast send --to @alice --to @bob "I bought a car!"
  broadcast send --list family --silent "Dinner at 8"
  broadcast send --to-file friends.txt --message-file note.txt
  git log -1 --format=%s | broadcast send --json --list team -`,
		Flags:  sendFlags(),
		Action: func(c *cli.Context) error { return sendAction(c.Context, c, ios) },
	}
}

// sendAction is `send` and the `broadcast MESSAGE` shorthand.
func sendAction(ctx context.Context, c *cli.Context, ios *streams) error {
	g, err := loadGlobals(c, ios)
	if err != nil {
		return err
	}
	opts, err := sendOptionsFrom(c, g, ios)
	if err != nil {
		return err
	}
	return runSend(ctx, g, opts)
}

// sendOptionsFrom reads send's flags (absent on the root command, where
// `broadcast MESSAGE` uses only the config) and the config's send defaults.
func sendOptionsFrom(c *cli.Context, g *globals, ios *streams) (sendOptions, error) {
	o := pacingFlagValues(c)
	o.to = c.StringSlice("to")
	o.lists = splitCommas(c.StringSlice("list"))
	o.toFile = c.String("to-file")
	o.silent, o.noPreview = c.Bool("silent"), c.Bool("no-preview")
	o.resendAfter = c.Duration("resend-after")
	o.id, o.fresh = c.String("id"), c.Bool("new")
	o.attach, o.schedule = c.StringSlice("attach"), c.String("schedule")
	o.template, o.split = c.Bool("template"), c.Bool("split")
	if w, ok := c.Generic("wait").(*waitFlag); ok && w.set {
		o.lockWait = w.d
	}
	if c.NArg() > 1 {
		return o, extraArgs(c)
	}
	if c.NArg() == 1 && c.Args().First() != "-" {
		o.message, o.hasMessage = c.Args().First(), true
	}
	o.applyConfig(c, g.cfg.Send)
	return o, o.check()
}

// applyConfig fills what the command line left unset from the config's
// send: section, then the defaults.
func (o *sendOptions) applyConfig(c *cli.Context, d config.SendDefaults) {
	if o.parseMode == "" {
		o.parseMode = d.ParseMode
	}
	unset := func(flag string, inConfig bool) bool { return !c.IsSet(flag) && inConfig }
	if unset("concurrency", d.HasConcurrency) {
		o.concurrency = d.Concurrency
	}
	if unset("rate", d.HasRate) {
		o.rate, o.rateSet = d.Rate, true
	}
	if unset("max-flood-wait", d.HasMaxFloodWait) {
		o.maxFloodWait = d.MaxFloodWait
	}
	if unset("resend-after", d.HasResendAfter) {
		o.resendAfter = d.ResendAfter
	}
	if unset("silent", d.HasSilent) {
		o.silent = d.Silent
	}
	if unset("no-preview", d.HasNoPreview) {
		o.noPreview = d.NoPreview
	}
	if !c.IsSet("concurrency") && !d.HasConcurrency {
		o.concurrency = defaultConcurrency
	}
	if !c.IsSet("resend-after") && !d.HasResendAfter {
		o.resendAfter = delivery.DefaultResendAfter
	}
	switch given := c.IsSet("max-flood-wait") || d.HasMaxFloodWait; {
	case o.maxFloodWait == 0 && given:
		o.maxFloodWait = fanout.NeverWait // 0: never sit out a flood wait
	case o.maxFloodWait == 0:
		o.maxFloodWait = fanout.DefaultMaxFloodWait
	}
}

// check refuses values no run can use.
func (o *sendOptions) check() error {
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return usagef("", "--concurrency must be between 1 and %d, got %d", maxConcurrency, o.concurrency)
	case o.rate < 0:
		return usagef("", "--rate must be 0 (no limit) or more, got %v", o.rate)
	case o.maxFloodWait < 0 && o.maxFloodWait != fanout.NeverWait:
		return usagef("", "--max-flood-wait must not be negative")
	case o.resendAfter < 0:
		return usagef("", "--resend-after must not be negative")
	case o.hasMessage && o.messageFile != "":
		return usagef("", "give the message either as an argument or with --message-file, not both")
	}
	return nil
}

// fmtDuration prints a default as people write it: 5m, not 5m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// extraArgs explains more than one argument: flags after the message are
// not flags to urfave/cli, they are more arguments.
func extraArgs(c *cli.Context) error {
	args := c.Args().Slice()
	prog := "broadcast"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		prog += " " + c.Command.Name
	}
	if err := flagAfterArgs(c, "the message"); err != nil {
		return err
	}
	return usagef(fmt.Sprintf("quote the message as one argument: %s %q", prog, strings.Join(args, " ")),
		"expected one MESSAGE argument, got %d", len(args))
}

// flagAfterArgs explains a flag written after the arguments (what: "the
// message"), which urfave/cli takes as one more argument.
func flagAfterArgs(c *cli.Context, what string) error {
	args := c.Args().Slice()
	prog := "broadcast"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		prog += " " + c.Command.Name
	}
	for i, a := range args {
		if i > 0 && strings.HasPrefix(a, "-") && a != "-" {
			var quoted []string
			for _, w := range args[:i] {
				quoted = append(quoted, fmt.Sprintf("%q", w))
			}
			return usagef(fmt.Sprintf("put flags before %s: %s %s %s", what, prog, strings.Join(args[i:], " "), strings.Join(quoted, " ")),
				"%s after %s is taken as another argument, not a flag", a, what)
		}
	}
	return nil
}

// waitFlag is --wait or --wait=DURATION. IsBoolFlag lets the flag package
// take it alone, without a value.
type waitFlag struct {
	set bool
	d   time.Duration
}

// foreverWait is what a bare --wait waits: for all practical purposes, until
// the other run ends.
const foreverWait = 7 * 24 * time.Hour

func (w *waitFlag) IsBoolFlag() bool { return true }

func (w *waitFlag) Set(v string) error {
	switch v {
	case "true":
		w.set, w.d = true, foreverWait
		return nil
	case "false":
		w.set, w.d = false, 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("--wait takes a duration such as 10m, not %q", v)
	}
	w.set, w.d = true, d
	return nil
}

func (w *waitFlag) String() string {
	if w == nil || !w.set {
		return ""
	}
	return w.d.String()
}

func splitCommas(in []string) []string {
	var out []string
	for _, v := range in {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseSchedule reads --schedule: an RFC 3339 time, or +DURATION from now.
func parseSchedule(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var t time.Time
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return t, usagef("e.g. --schedule +1h30m or --schedule 2026-12-24T18:00:00+01:00", "--schedule %q: not a duration", s)
		}
		t = now.Add(d)
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return t, usagef("e.g. --schedule +1h30m or --schedule 2026-12-24T18:00:00+01:00", "--schedule %q: not an RFC 3339 time or +duration", s)
		}
	}
	// Telegram wants the time in the future (and within a year).
	if t.Before(now.Add(time.Minute)) {
		return t, usagef("schedule at least a minute ahead", "--schedule %s is not in the future", t.Format(time.RFC3339))
	}
	if t.After(now.AddDate(1, 0, 0)) {
		return t, usagef("", "--schedule %s is more than a year ahead; Telegram refuses that", t.Format(time.RFC3339))
	}
	return t.Truncate(time.Second), nil
}

// readMessage takes the message from the argument, --message-file or stdin.
func readMessage(ctx context.Context, o sendOptions, ios *streams) (string, error) {
	switch {
	case o.hasMessage:
		return o.message, nil
	case o.messageFile != "":
		b, err := readFile(ctx, ios, "message file", o.messageFile)
		if err != nil {
			return "", err
		}
		return trimNewline(string(b)), nil
	case len(o.attach) > 0 && ios.inTTY:
		return "", nil // a file with no caption
	case ios.inTTY:
		return "", usagef("give the message as an argument, with --message-file, or on stdin", "no message to send")
	default:
		b, err := readStdin(ctx, ios)
		if err != nil {
			return "", err
		}
		return trimNewline(string(b)), nil
	}
}

// trimNewline drops one trailing newline, as `echo msg |` adds one.
func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// recipients collects --to, --list and --to-file, or the default list, and
// parses them all before anything is sent.
func recipients(ctx context.Context, o sendOptions, g *globals) ([]recipient.Recipient, []string, error) {
	var inputs []string
	inputs = append(inputs, o.to...)
	for _, name := range o.lists {
		l, ok := g.cfg.Lists[name]
		if !ok {
			return nil, nil, usagef(listHint(g), "no list named %q in the config", name)
		}
		inputs = append(inputs, l...)
	}
	if o.toFile != "" {
		b, err := readFile(ctx, g.io, "recipients", o.toFile)
		if err != nil {
			return nil, nil, err
		}
		name := o.toFile
		if name == "-" {
			name = "stdin"
		}
		lines, err := recipient.ReadList(bytes.NewReader(b), name)
		if err != nil {
			return nil, nil, usagef("", "%v", err)
		}
		if len(lines) == 0 {
			return nil, nil, usagef("put one recipient a line: @name, t.me/name, +15551234567; # starts a comment", "--to-file %s names no recipients", name)
		}
		inputs = append(inputs, lines...)
	}
	if len(o.to) == 0 && len(o.lists) == 0 && o.toFile == "" {
		name := g.cfg.DefaultList
		if name == "" {
			return nil, nil, usagef("name recipients with --to, --list or --to-file, or set default_list in the config", "no recipients")
		}
		inputs = append(inputs, g.cfg.Lists[name]...)
	}
	rs, err := recipient.ParseAll(inputs)
	if err != nil {
		return nil, nil, err
	}
	// The same name written twice (@bob, t.me/bob) is resolved and sent
	// once, under the spelling given first; the same person under two
	// names (a username and a phone) is merged after resolution.
	rs = recipient.Dedupe(rs)
	if err := recipient.OnePlacePerChat(rs); err != nil {
		return nil, nil, err
	}
	inputs = inputs[:0]
	for _, r := range rs {
		inputs = append(inputs, r.Input)
	}
	if len(rs) == 0 {
		return nil, nil, usagef("name recipients with --to, --list or --to-file", "no recipients")
	}
	return rs, inputs, nil
}

func listHint(g *globals) string {
	if len(g.cfg.ListOrder) == 0 {
		return "the config has no lists; add some under lists:"
	}
	return "lists in the config: " + strings.Join(g.cfg.ListOrder, ", ")
}

// runSend is the main job: check everything, then send to every recipient
// concurrently and report each outcome.
func runSend(ctx context.Context, g *globals, o sendOptions) error {
	text, err := readMessage(ctx, o, g.io)
	if err != nil {
		return err
	}
	rs, inputs, err := recipients(ctx, o, g)
	// The config's lists are read; a run needs only its own recipients,
	// not every list in the file for as long as it sends.
	g.cfg.Lists = nil
	if err != nil {
		return err
	}
	schedule, err := parseSchedule(o.schedule, g.io.now())
	if err != nil {
		return err
	}
	msg, err := telegram.Prepare(telegram.Content{
		Text: text, ParseMode: o.parseMode, Silent: o.silent, NoPreview: o.noPreview,
		Schedule: schedule, Template: o.template, Split: o.split, Attachments: o.attach,
	})
	if err != nil {
		return err
	}
	if !o.template && !g.quiet && placeholder.MatchString(text) {
		fmt.Fprintln(g.io.err, "broadcast: note: the message contains a {placeholder} but --template is not set, so it is sent as written")
	}
	atts, err := digests(o.attach)
	if err != nil {
		return err
	}
	spec := delivery.Spec{
		Text: text, ParseMode: msg.Content.ParseMode, Silent: o.silent, NoPreview: o.noPreview,
		Schedule: schedule, ScheduleInput: o.schedule, Template: o.template, Split: o.split,
		Attachments: atts, Recipients: inputs,
	}
	return deliver(ctx, g, o, spec, rs, msg, nil)
}

// placeholder finds what --template would fill, to warn when it is absent.
var placeholder = regexp.MustCompile(`\{(first_name|last_name|username)\}`)

// inFlightGrace is how long sends already on the wire get to finish after a
// signal, so that their outcome is known rather than pending. A second
// signal ends the process at once.
const inFlightGrace = 10 * time.Second

// deliver runs a checked broadcast: it is shared by send and resume. The
// broadcast is recorded only once the connection works, so a client that
// cannot be built or connect leaves nothing "running" behind.
func deliver(ctx context.Context, g *globals, o sendOptions, spec delivery.Spec, rs []recipient.Recipient, msg *telegram.Message, resume *store.Broadcast) error {
	st, err := g.openStoreWaiting(ctx, o.lockWait)
	if err != nil {
		return err
	}
	defer st.Close()
	// Before live reads are served: a compaction replaces the file.
	if !o.dryRun {
		pruneAtSend(g, st, o.resendAfter)
	}
	// history and whoami read a live copy while this run holds the state.
	stopServing, err := st.ServeReaders()
	defer stopServing()
	if err != nil {
		g.log.Debug("live reads unavailable", "err", err)
	}
	acct, err := g.account(st)
	if err != nil {
		return err
	}
	keys, err := checkCached(st, rs)
	if err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(g, st, delivery.BaseID(acct.ID, spec, keys), rs, msg)
	}
	client, err := g.sendingClient(st)
	if err != nil {
		return err
	}
	r := &sendRun{g: g, o: o, st: st, acct: acct, client: client, spec: spec, keys: keys, rs: rs, msg: msg, resume: resume,
		rep: newReporter(g, len(rs))}
	r.rep.schedule = msg.Content.Schedule
	defer r.rep.close()
	return r.run(ctx)
}

// sendRun is one run of a broadcast, from connecting to the outcome.
type sendRun struct {
	g      *globals
	o      sendOptions
	st     *store.Store
	acct   store.Account
	client *telegram.Client
	spec   delivery.Spec
	keys   []string
	rs     []recipient.Recipient
	msg    *telegram.Message
	resume *store.Broadcast // nil: a send, not a resume
	rep    *reporter

	plan   delivery.Plan
	began  bool        // the broadcast is recorded in the journal
	engine atomic.Bool // the engine runs: a signal gives sends on the wire time
	sum    fanout.Summary
	runErr error // the journal's, from the engine
}

// run connects, then plans, announces and sends (in the client's callback),
// and maps how it ended to an outcome.
func (r *sendRun) run(ctx context.Context) error {
	clientCtx, cancelClient := r.clientContext(ctx)
	defer cancelClient()
	// The engine stops on a signal, and on a connection that was lost and
	// did not come back (the client ends cctx with the reason).
	engineCtx, stopEngine := context.WithCancelCause(ctx)
	defer stopEngine(nil)
	r.g.log.Debug("connecting", "server", r.client.ServerName(), "timeout", r.g.timeout)
	err := r.client.Run(clientCtx, func(cctx context.Context) error {
		defer context.AfterFunc(cctx, func() { stopEngine(context.Cause(cctx)) })()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		r.g.log.Debug("connected")
		return r.send(cctx, engineCtx)
	})
	return r.finish(ctx, engineCtx, err)
}

// clientContext outlives a signal by inFlightGrace, so that a send on the
// wire gets its answer (and its journal mark) instead of being cut off;
// before the engine runs there is nothing to wait for. After the grace gotd
// closes the connection and the sends still on it fail: they are reported
// pending, and are safe to resume because a resend carries the same
// random_id.
func (r *sendRun) clientContext(ctx context.Context) (context.Context, context.CancelFunc) {
	clientCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !r.engine.Load() {
			cancel()
			return
		}
		time.AfterFunc(inFlightGrace, cancel)
	})
	return clientCtx, func() { stop(); cancel() }
}

// send records the broadcast, says what it is, uploads the attachments once
// and runs the engine.
func (r *sendRun) send(cctx, engineCtx context.Context) error {
	g, o := r.g, r.o
	plan, err := begin(g, r.st, r.acct, o, r.spec, r.keys, r.resume)
	if err != nil {
		return err
	}
	r.plan, r.began = plan, true
	g.log.Debug("broadcast", "id", plan.Broadcast.ID, "resumed", plan.Resumed, "was_finished", plan.WasFinished,
		"recipients", len(r.rs), "rate", o.effectiveRate(r.acct.Bot), "concurrency", o.concurrency)
	announce(g, r.st, plan)
	// From here on the run needs the broadcast's id, not its record: the
	// spec (the message and the list as given), the list again as keys and
	// the record's own copy would stay in memory for the whole run, about
	// 60 bytes a recipient.
	r.spec, r.keys = delivery.Spec{}, nil
	r.plan.Broadcast.Spec, r.plan.Broadcast.Recipients = nil, nil
	plan = r.plan
	rs := r.rs // delivery.Run holds the list its own way
	r.rs = nil
	if err := r.client.Upload(cctx, r.msg); err != nil {
		return err
	}
	rate := o.effectiveRate(r.acct.Bot)
	r.engine.Store(true)
	r.sum, r.runErr = delivery.Run(engineCtx, r.st, r.messenger(engineCtx), plan.Broadcast, rs, fanout.Options{
		Concurrency: o.concurrency,
		// Sends keep retrying through an outage: the outage as a whole
		// is bounded by the client's reconnect wait.
		RetryFor:     max(fanout.DefaultRetryFor, g.reconnectWait+time.Minute),
		Rate:         rate,
		Burst:        max(1, int(rate)),
		MaxFloodWait: o.maxFloodWait,
		OnResult:     r.rep.result,
		OnWait:       r.rep.wait,
		OnRetry: func(t fanout.Target, attempt int, err error, after time.Duration) {
			g.log.Debug("retry", "recipient", t.Recipient, "attempt", attempt, "after", after.Round(time.Millisecond), "err", err)
		},
	})
	return nil
}

// finish maps how the run ended to the summary and an outcome.
func (r *sendRun) finish(ctx, engineCtx context.Context, err error) error {
	var lost *telegram.ConnectionLostError
	if r.began && errors.As(context.Cause(engineCtx), &lost) {
		// The run stopped on a dead connection: unfinished, resumable.
		r.rep.summary(r.plan.Broadcast.ID, r.sum)
		return &outcomeError{code: exitFailure, msg: lost.Error(),
			hint: "nothing is lost: run `broadcast resume " + r.plan.Broadcast.ID + "` when the server is reachable"}
	}
	if err == nil && !r.began {
		err = context.Cause(ctx) // gotd gave up connecting when the signal came
	}
	if err != nil {
		if r.began {
			// Connected and recorded, but the upload or the engine never
			// got going: the broadcast is unfinished, not running.
			_ = r.st.SetState(r.plan.Broadcast.ID, store.StateInterrupted)
		}
		return err
	}
	r.rep.summary(r.plan.Broadcast.ID, r.sum)
	if r.runErr != nil {
		return fmt.Errorf("journal: %w", r.runErr)
	}
	return outcome(r.sum, r.plan.Broadcast.ID)
}

// checkCached returns the recipients' canonical keys, refusing a numeric id
// that is not in the peer cache: it can only be messaged with its cached
// access hash.
func checkCached(st *store.Store, rs []recipient.Recipient) ([]string, error) {
	keys := make([]string, len(rs))
	for i, r := range rs {
		keys[i] = r.Key
		if cachedEnough(r) {
			continue
		}
		if _, ok, err := st.LookupPeer(r.PeerKey()); err != nil {
			return nil, err
		} else if !ok {
			return nil, uncachedID(r)
		}
	}
	return keys, nil
}

// begin records the broadcast as running: a resumed one, or what
// delivery.Begin decides for a send.
func begin(g *globals, st *store.Store, acct store.Account, o sendOptions, spec delivery.Spec, keys []string, resume *store.Broadcast) (delivery.Plan, error) {
	if resume != nil {
		// Read again under this run's lock: a retract may have come since.
		b, err := st.LoadBroadcast(resume.ID)
		if err != nil {
			return delivery.Plan{}, err
		}
		if !b.RetractedAt.IsZero() {
			return delivery.Plan{}, usagef("send it as a new broadcast if it should still go out", "%v: it cannot be resumed", &delivery.RetractedError{ID: b.ID, At: b.RetractedAt})
		}
		return delivery.Plan{Broadcast: b, Resumed: true}, st.SetState(b.ID, store.StateRunning)
	}
	plan, err := delivery.Begin(st, acct.ID, spec, keys, delivery.BeginOptions{
		ID: o.id, New: o.fresh, ResendAfter: o.resendAfter, Now: g.io.now(),
	})
	var (
		retracted *delivery.RetractedError
		pruned    *delivery.PrunedError
	)
	switch {
	case errors.Is(err, delivery.ErrSpecMismatch):
		return plan, usagef("choose another --id", "%v", err)
	case errors.As(err, &pruned):
		return plan, usagef("choose another --id: who got it is no longer known, so running it again would send to everyone a second time", "%v", err)
	case errors.As(err, &retracted):
		return plan, usagef("to send it again as a new broadcast, add --new", "%v: the same command does not send its rest", err)
	}
	return plan, err
}

// announce tells, on stderr, which broadcast this run works on when it is
// not a new one: a re-run must say that it skips people, and why.
func announce(g *globals, st *store.Store, plan delivery.Plan) {
	if g.quiet {
		return
	}
	b := plan.Broadcast
	switch {
	case plan.WasFinished:
		sent, at := deliveredSoFar(st, b.ID)
		fmt.Fprintf(g.io.err, "broadcast: already sent to %d of %d at %s (broadcast %s): they are skipped, the rest retried\n",
			sent, len(b.Recipients), at.Local().Format("15:04"), b.ID)
		fmt.Fprintln(g.io.err, "broadcast: hint: to send it to everyone again, add --new")
	case plan.Resumed:
		fmt.Fprintf(g.io.err, "broadcast: resuming broadcast %s from %s: recipients already delivered are skipped\n",
			b.ID, b.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	if plan.Stale != nil {
		fmt.Fprintf(g.io.err, "broadcast: an identical broadcast %s from %s did not finish and is over 24h old; starting a new one\nbroadcast: hint: to finish that one instead, run: broadcast resume %s\n",
			plan.Stale.ID, plan.Stale.CreatedAt.Local().Format("2006-01-02 15:04"), plan.Stale.ID)
	}
}

// deliveredSoFar counts a broadcast's delivered recipients and when the last
// one was delivered.
func deliveredSoFar(st *store.Store, id string) (int, time.Time) {
	es, _ := st.Entries(id)
	n, last := 0, time.Time{}
	for _, e := range es {
		if e.Status == store.EntrySent {
			n++
			if e.UpdatedAt.After(last) {
				last = e.UpdatedAt
			}
		}
	}
	return n, last
}

// effectiveRate is --rate, or the careful default for the account's kind.
func (o sendOptions) effectiveRate(bot bool) float64 {
	switch {
	case o.rateSet:
		return o.rate
	case bot:
		return defaultBotRate
	}
	return defaultUserRate
}

// outcome maps a finished run to its exit code and closing message.
func outcome(sum fanout.Summary, id string) error {
	switch {
	case sum.Stopped != nil:
		if errors.Is(sum.Stopped, telegram.ErrSessionRevoked) {
			return &outcomeError{code: exitAuth, msg: sum.Stopped.Error(), hint: "run `broadcast login` again, then `broadcast resume " + id + "`"}
		}
		hint := "the rest were not sent; later, run: broadcast resume " + id
		if errors.Is(sum.Stopped, telegram.ErrSpamLimited) {
			// Every further send would lengthen the limit.
			hint = "send nothing from this account for now (each try makes the limit longer); in a day or so, run: broadcast resume " + id
		}
		return &outcomeError{code: exitPartial, msg: "stopped: " + sum.Stopped.Error(), hint: hint}
	case sum.Interrupted || sum.NotStarted > 0:
		return &outcomeError{code: exitInterrupted, msg: "interrupted", hint: "the journal is kept; run `broadcast resume " + id + "` to finish"}
	case sum.Failed > 0:
		return &outcomeError{code: exitPartial, msg: ""}
	}
	return nil
}

// digests fixes each attachment's content in the broadcast's identity.
func digests(paths []string) ([]delivery.Attachment, error) {
	var out []delivery.Attachment
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read attachment %s: %w", p, err)
		}
		abs, _ := filepath.Abs(p)
		out = append(out, delivery.Attachment{Path: abs, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	return out, nil
}

// dryRunPreviews is how many recipients a --template dry run shows filled.
const dryRunPreviews = 3

func dryRun(g *globals, st *store.Store, id string, rs []recipient.Recipient, msg *telegram.Message) error {
	keys := make([]string, 0, len(rs))
	for _, r := range rs { // recipients() already merged names written twice
		keys = append(keys, r.Input)
	}
	sort.Strings(keys)
	previews := templatePreviews(st, rs, msg)
	if g.json {
		return writeJSON(g.io.out, map[string]any{"dry_run": map[string]any{
			"broadcast_id": id, "recipients": keys, "text": msg.Text(), "parse_mode": msg.Content.ParseMode,
			"previews": previews,
		}})
	}
	fmt.Fprintf(g.io.out, "would send broadcast %s to %d recipients: %s\n", id, len(keys), strings.Join(keys, ", "))
	fmt.Fprintf(g.io.out, "message (%d characters): %s\n", telegram.Length(msg.Text()), msg.Text())
	for _, p := range previews {
		fmt.Fprintf(g.io.out, "for %s: %s\n", p.Recipient, p.Text)
	}
	if n := len(rs) - len(previews); len(previews) > 0 && n > 0 {
		fmt.Fprintf(g.io.out, "(and %d more, each filled from their own profile)\n", n)
	}
	return nil
}

// preview is a --template message as one recipient will get it.
type filledPreview struct {
	Recipient string `json:"recipient"`
	Text      string `json:"text"`
}

// templatePreviews fills a --template for the first few recipients from the
// peer cache: a dry run makes no network call, so a name not resolved yet
// says so instead of showing blanks.
func templatePreviews(st *store.Store, rs []recipient.Recipient, msg *telegram.Message) []filledPreview {
	if !msg.Content.Template {
		return nil
	}
	var out []filledPreview
	for _, r := range rs[:min(len(rs), dryRunPreviews)] {
		p, ok, err := st.LookupPeer(r.Key)
		if err != nil || !ok {
			out = append(out, filledPreview{Recipient: r.Input, Text: "(filled when sent: not resolved yet)"})
			continue
		}
		parts, err := msg.Fill(p.FirstName, p.LastName, p.Username)
		if err != nil {
			out = append(out, filledPreview{Recipient: r.Input, Text: "(cannot be sent: " + err.Error() + ")"})
			continue
		}
		out = append(out, filledPreview{Recipient: r.Input, Text: strings.Join(parts, "\n---\n")})
	}
	return out
}
