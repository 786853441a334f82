package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/broadcast-cli/broadcast/internal/delivery"
	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// reporter prints results as they come: human lines or JSON Lines on stdout,
// flood waits and notes on stderr. Its methods are called serially by the
// engine; chatWait comes from the senders themselves, so mu keeps its lines
// and the progress bar apart from the engine's.
type reporter struct {
	mu    sync.Mutex
	g     *globals
	total int
	done  int
	bar   *progress // nil unless stderr is a terminal and the list is long
	// schedule is when Telegram delivers a --schedule broadcast (zero: now).
	schedule time.Time
	// lastWait is the flood wait last announced: sends already in flight
	// when the gate closed bring the same wait again, which is not news.
	lastWait fanout.WaitEvent
	// verbs are the words of this kind of run; the zero value is send's.
	verbs *verbs
}

// verbs are the words a report uses for one kind of run: what a recipient
// done now, done before or never reached is called.
type verbs struct {
	done    string // sent, retracted, edited
	notDone string // not_sent, not_retracted, not_edited
	// skipped says why a recipient needed nothing (%d: the message id).
	skipped string
	pending string
}

var (
	sendVerbs = verbs{done: "sent", notDone: "not_sent", skipped: "already sent as message %d",
		pending: "outcome unknown, the run stopped while this send was on the wire"}
	retractVerbs = &verbs{done: "retracted", notDone: "not_retracted", skipped: "already retracted (message %d)",
		pending: "outcome unknown, the run stopped while the call was on the wire; run the same command again"}
	editVerbs = &verbs{done: "edited", notDone: "not_edited", skipped: "already has this text (message %d)",
		pending: "outcome unknown, the run stopped while the edit was on the wire; run the same command again"}
)

// words are r's verbs.
func (r *reporter) words() *verbs {
	if r.verbs == nil {
		return &sendVerbs
	}
	return r.verbs
}

// status is how a report names a fanout status in this kind of run.
func (v *verbs) status(st fanout.Status) string {
	switch st {
	case fanout.StatusSent:
		return v.done
	case fanout.StatusNotSent:
		return v.notDone
	}
	return string(st)
}

// progressMin is the smallest broadcast that gets a progress bar: shorter
// ones finish before a bar would tell anything.
const progressMin = 20

func newReporter(g *globals, total int) *reporter {
	r := &reporter{g: g, total: total}
	if g.io.errTTY && !g.json && !g.quiet && total >= progressMin {
		r.bar = &progress{
			w: g.io.err, total: total, start: g.io.now(), now: g.io.now,
			color: g.io.getenv("NO_COLOR") == "" && g.io.getenv("TERM") != "dumb",
		}
	}
	return r
}

// close removes the progress bar.
func (r *reporter) close() {
	if r.bar != nil {
		r.bar.clear()
	}
}

// resultLine is one recipient's outcome in --json.
type resultLine struct {
	Recipient  string `json:"recipient"`
	PeerID     int64  `json:"peer_id,omitempty"`
	Status     string `json:"status"`
	MessageID  int    `json:"message_id,omitempty"`
	Attempts   int    `json:"attempts"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// ScheduledFor: Telegram holds the message until then.
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
}

type summaryLine struct {
	BroadcastID string `json:"broadcast_id"`
	Total       int    `json:"total"`
	Sent        int    `json:"sent"`
	Failed      int    `json:"failed"`
	Skipped     int    `json:"skipped"`
	Pending     int    `json:"pending"`
	NotSent     int    `json:"not_sent"`
	DurationMS  int64  `json:"duration_ms"`
	Stopped     string `json:"stopped,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

func (r *reporter) result(res fanout.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if r.bar != nil {
		r.bar.clear()
		defer r.bar.update(r.done)
	}
	line := resultLine{
		Recipient:  res.Target.Recipient,
		PeerID:     res.Receipt.PeerID,
		Status:     r.words().status(res.Status),
		MessageID:  res.Receipt.MessageID,
		Attempts:   res.Attempts,
		DurationMS: res.Duration.Milliseconds(),
	}
	if res.Err != nil {
		line.Error, line.Detail = errorCode(res.Err)
	}
	if !r.schedule.IsZero() && res.Status == fanout.StatusSent {
		line.ScheduledFor = &r.schedule
	}
	if r.g.json {
		_ = writeJSON(r.g.io.out, line)
		return
	}
	out := r.g.io.out
	if r.g.quiet {
		// Quiet keeps stdout for the summary; what went wrong goes to
		// stderr, which cron mails.
		if res.Status == fanout.StatusSent || res.Status == fanout.StatusSkipped {
			return
		}
		out = r.g.io.err
	}
	v := r.words()
	switch res.Status {
	case fanout.StatusSent:
		if !r.schedule.IsZero() {
			fmt.Fprintf(out, "scheduled %s for %s (message %d)\n", line.Recipient, r.schedule.Local().Format("2006-01-02 15:04"), line.MessageID)
			return
		}
		if v.done != "sent" {
			fmt.Fprintf(out, "%-8s %s (message %d)\n", v.done, line.Recipient, line.MessageID)
			return
		}
		fmt.Fprintf(out, "sent     %s (message %d, %s)\n", line.Recipient, line.MessageID, roundMS(res.Duration))
	case fanout.StatusSkipped:
		fmt.Fprintf(out, "skipped  %s (%s)\n", line.Recipient, fmt.Sprintf(v.skipped, line.MessageID))
	case fanout.StatusPending:
		fmt.Fprintf(out, "pending  %s: %s\n", line.Recipient, v.pending)
	case fanout.StatusNotSent:
		fmt.Fprintf(out, "%s %s: %s\n", strings.ReplaceAll(v.notDone, "_", " "), line.Recipient, line.Detail)
	default:
		detail := line.Error
		if line.Detail != "" {
			detail += ": " + line.Detail
		}
		fmt.Fprintf(out, "failed   %s: %s\n", line.Recipient, detail)
	}
}

// wait announces a flood wait on stderr: a pause must never look like a hang.
func (r *reporter) wait(w fanout.WaitEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.lastWait
	r.lastWait = w
	if w.Wait.Round(time.Second) == last.Wait.Round(time.Second) && w.Until.Sub(last.Until).Abs() < 2*time.Second {
		return // the same wall, met again by a send that was already in flight
	}
	if r.bar != nil {
		r.bar.clear()
		defer r.bar.draw()
	}
	fmt.Fprintf(r.g.io.err, "broadcast: Telegram asked to slow down (flood wait): all sends paused for %s, until %s\n",
		w.Wait.Round(time.Second), w.Until.Local().Format("15:04:05"))
}

func (r *reporter) summary(id string, s fanout.Summary) {
	// The bar's last frame must not share a line with the summary.
	r.close()
	line := summaryLine{
		BroadcastID: id, Total: s.Total, Sent: s.Sent, Failed: s.Failed, Skipped: s.Skipped,
		Pending: s.Pending, NotSent: s.NotStarted, DurationMS: s.Duration.Milliseconds(), Interrupted: s.Interrupted,
	}
	if s.Stopped != nil {
		line.Stopped = s.Stopped.Error()
	}
	v := r.words()
	if r.g.json && v.done != "sent" {
		_ = writeJSON(r.g.io.out, map[string]any{"summary": map[string]any{
			"broadcast_id": id, "total": s.Total, v.done: s.Sent, "failed": s.Failed, "skipped": s.Skipped,
			"pending": s.Pending, v.notDone: s.NotStarted, "duration_ms": line.DurationMS,
			"stopped": line.Stopped, "interrupted": s.Interrupted,
		}})
		return
	}
	if r.g.json {
		_ = writeJSON(r.g.io.out, map[string]summaryLine{"summary": line})
		return
	}
	text := fmt.Sprintf("%d recipients: %d %s, %d failed, %d skipped", s.Total, s.Sent, v.done, s.Failed, s.Skipped)
	if s.Pending > 0 {
		text += fmt.Sprintf(", %d pending", s.Pending)
	}
	if s.NotStarted > 0 {
		text += fmt.Sprintf(", %d %s", s.NotStarted, strings.ReplaceAll(v.notDone, "_", " "))
	}
	text = fmt.Sprintf("%s in %s\n", text, roundMS(s.Duration))
	fmt.Fprint(r.g.io.out, text)
	if r.g.quiet && (s.Failed > 0 || s.Pending > 0 || s.NotStarted > 0 || s.Stopped != nil) {
		fmt.Fprint(r.g.io.err, "broadcast: "+text)
	}
}

func roundMS(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// errorCode gives a failure's stable code (Telegram's error type where there
// is one) and a plain-words detail.
func errorCode(err error) (string, string) {
	var rpc *telegram.RPCError
	var flood *fanout.FloodWaitError
	var tooLong *fanout.FloodWaitTooLongError
	var late *delivery.TooLateError
	var ended *telegram.SessionEndedError
	switch {
	case errors.As(err, &late):
		return late.Code, late.Detail()
	case errors.Is(err, delivery.ErrUnknownMessageID):
		return "MESSAGE_ID_UNKNOWN", err.Error()
	case errors.Is(err, delivery.ErrPeerForgotten):
		return "PEER_UNKNOWN", err.Error()
	case errors.As(err, new(*delivery.PlaceConflictError)):
		return "SAME_CHAT", err.Error()
	case errors.Is(err, fanout.ErrNotSent):
		return "NOT_SENT", err.Error()
	case errors.Is(err, fanout.ErrInterrupted):
		return "UNKNOWN", "the run stopped before Telegram's answer came; resume settles it without a second copy"
	case errors.As(err, &tooLong) && tooLong.Max == 0:
		return "FLOOD_WAIT", fmt.Sprintf("Telegram asked to wait %s, and --max-flood-wait 0 never waits", tooLong.Wait)
	case errors.As(err, &tooLong):
		return "FLOOD_WAIT", fmt.Sprintf("flood wait %s exceeds --max-flood-wait %s", tooLong.Wait, fmtDuration(tooLong.Max))
	case errors.As(err, &rpc):
		return rpc.Type, rpc.Detail
	case errors.As(err, &flood):
		return "FLOOD_WAIT", err.Error()
	case errors.Is(err, telegram.ErrSpamLimited):
		return "PEER_FLOOD", telegram.ErrSpamLimited.Error()
	case errors.As(err, &ended):
		return ended.Type, err.Error()
	case errors.Is(err, telegram.ErrSessionRevoked):
		return "SESSION_REVOKED", err.Error()
	}
	return "SEND_FAILED", err.Error()
}

// progress draws a one-line bar with count, rate and ETA on stderr.
type progress struct {
	w     io.Writer
	total int
	done  int
	start time.Time
	last  time.Time
	now   func() time.Time
	color bool
	drawn bool
}

func (p *progress) update(done int) {
	p.done = done
	now := p.now()
	// Redraw at most ten times a second, and always at the end.
	if now.Sub(p.last) < 100*time.Millisecond && done < p.total {
		return
	}
	p.last = now
	p.draw()
}

func (p *progress) draw() {
	const width = 30
	filled := width * p.done / max(1, p.total)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if p.color {
		bar = "\x1b[32m" + strings.Repeat("=", filled) + "\x1b[0m" + strings.Repeat(" ", width-filled)
	}
	elapsed := p.now().Sub(p.start)
	rate := float64(p.done) / max(elapsed.Seconds(), 0.001)
	eta := "?"
	if p.done > 0 && rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d  %.1f/s  ETA %s\x1b[K", bar, p.done, p.total, rate, eta)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
