package telegram

// pacing.go spaces the messages one chat gets, below the fan-out engine:
// the engine's rate and flood gate are the account's, while these limits
// are each group's. A --split broadcast sends several messages to one
// chat in a row, and slow mode (SLOWMODE_WAIT_X) holds back one chat's
// next message without pausing anyone else.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gotd/td/tgerr"

	"github.com/broadcast-cli/broadcast/internal/fanout"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// Per-chat pacing. Telegram's Bots FAQ: "avoid sending more than one
// message per second" in a chat, and a bot "will not be able to send more
// than 20 messages per minute to the same group"
// (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
// User accounts have no published figures; they get the same, which costs
// a split broadcast a second per part in a group and nothing elsewhere.
const (
	ChatGap       = time.Second
	ChatPerMinute = 20
)

// maxSlowModeTries bounds how often one message meets slow mode in a row:
// the wait Telegram names is exact, so a second refusal is already odd.
const maxSlowModeTries = 3

// ChatWait announces that one chat's next message waits, while the rest
// of the broadcast goes on.
type ChatWait struct {
	// Recipient is the recipient as written.
	Recipient string
	Wait      time.Duration
	// SlowMode: Telegram asked for the wait (the chat has slow mode);
	// otherwise it is the per-chat pace (ChatPerMinute).
	SlowMode bool
}

// chatPacer keeps, per chat, when the account may send there next.
type chatPacer struct {
	mu    sync.Mutex
	chats map[int64]*chatPace
	now   func() time.Time
}

type chatPace struct {
	// sent holds the times of the messages sent (or about to be) in the
	// last minute.
	sent []time.Time
	// gap is the slow mode interval learnt from SLOWMODE_WAIT_X, so later
	// parts wait for it instead of being refused first.
	gap time.Duration
	// until: slow mode forbids a message before then.
	until time.Time
}

func newChatPacer() *chatPacer {
	return &chatPacer{chats: map[int64]*chatPace{}, now: time.Now}
}

// reserve books the next slot for a message to chat id and returns how
// long to wait for it, and whether slow mode is what it waits for. Only
// groups and channels are paced.
func (cp *chatPacer) reserve(p store.Peer) (time.Duration, bool) {
	if cp == nil || !IsChat(p) {
		return 0, false
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	now := cp.now()
	c := cp.chats[p.ID]
	if c == nil {
		c = &chatPace{}
		cp.chats[p.ID] = c
	}
	at, slow := now, false
	if c.until.After(at) {
		at, slow = c.until, true
	}
	if n := len(c.sent); n > 0 {
		if next := c.sent[n-1].Add(max(ChatGap, c.gap)); next.After(at) {
			at, slow = next, c.gap > ChatGap
		}
	}
	// At most ChatPerMinute in any minute: the slot waits for the oldest
	// of the last ChatPerMinute to be a minute old.
	keep := c.sent[:0]
	for _, t := range c.sent {
		if t.After(at.Add(-time.Minute)) {
			keep = append(keep, t)
		}
	}
	c.sent = keep
	if len(c.sent) >= ChatPerMinute {
		if next := c.sent[len(c.sent)-ChatPerMinute].Add(time.Minute); next.After(at) {
			at, slow = next, false
		}
	}
	c.sent = append(c.sent, at)
	return at.Sub(now), slow
}

// hold records SLOWMODE_WAIT_X for chat id: nothing goes there for wait.
// X is what is left of the interval since the last message that went
// through, so that message's time plus X is the whole interval, which later
// messages then keep without being refused first.
func (cp *chatPacer) hold(p store.Peer, wait time.Duration) {
	if cp == nil {
		return
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	c := cp.chats[p.ID]
	if c == nil {
		c = &chatPace{}
		cp.chats[p.ID] = c
	}
	now := cp.now()
	c.until = now.Add(wait)
	if n := len(c.sent); n > 0 {
		c.sent = c.sent[:n-1] // the refused message took no slot
	}
	interval := wait
	if n := len(c.sent); n > 0 {
		interval = c.until.Sub(c.sent[n-1])
	}
	c.gap = max(c.gap, interval)
}

// sleep waits d, or until ctx ends or stop closes.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return context.Canceled
	}
}

// pacing is how one recipient's messages are paced: the broadcast's chat
// pacer, the longest slow mode wait to sit out, and whom to tell.
type pacing struct {
	pacer     *chatPacer
	recipient string
	// maxWait is the longest slow mode wait sat out; negative: none.
	maxWait time.Duration
	onWait  func(ChatWait)
	stop    <-chan struct{}
}

// chatWaitNotice is the shortest pace worth announcing: the second between
// a group's parts is routine, a minute for its 21st part is not.
const chatWaitNotice = 5 * time.Second

// do sends one message (or album) with send, first waiting for the chat's
// slot. SLOWMODE_WAIT_X holds this chat only: the message is sent again
// after X seconds with the same random_id, unless X is longer than the
// run sits out, which fails this recipient. A nil pacing just sends.
func (pc *pacing) do(ctx context.Context, p store.Peer, send func() error) error {
	if pc == nil {
		return send()
	}
	refused := false // the wait follows Telegram's SLOWMODE_WAIT: always said
	for try := 1; ; try++ {
		if d, slow := pc.pacer.reserve(p); d > 0 {
			if (refused || d >= chatWaitNotice) && pc.onWait != nil {
				pc.onWait(ChatWait{Recipient: pc.recipient, Wait: d, SlowMode: slow || refused})
			}
			if err := sleep(ctx, pc.stop, d); err != nil {
				// Between two messages: the earlier ones are delivered and
				// journaled as pending, so a resume sends the rest.
				return fanout.Temporary(fmt.Errorf("interrupted while waiting to send to this chat: %w", err))
			}
		}
		err := send()
		wait, slow := slowModeWait(err)
		if !slow {
			return err
		}
		pc.pacer.hold(p, wait)
		if pc.maxWait < 0 || wait > pc.maxWait || try >= maxSlowModeTries {
			// Telegram's error alone: classify marked it temporary, and
			// this recipient is not to be retried.
			rpc, _ := tgerr.AsType(err, "SLOWMODE_WAIT")
			detail := fmt.Sprintf("this chat is in slow mode: its next message may go in %s, longer than this run waits", wait)
			if try >= maxSlowModeTries {
				detail = fmt.Sprintf("this chat is in slow mode and refused the message %d times in a row", try)
			}
			return &RPCError{Type: "SLOWMODE_WAIT", Detail: detail, Err: rpc}
		}
		refused = true
	}
}
