package fanout

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// settlingSender knows some targets were delivered by an earlier run.
type settlingSender struct {
	fakeSender
	done map[int]bool
}

func (s *settlingSender) Settled(t Target) (Receipt, bool, error) {
	if t.Recipient == "@a-again" {
		return Receipt{}, false, ErrDuplicate
	}
	if s.done[t.Index] {
		return Receipt{PeerID: int64(t.Index), MessageID: 7, Skipped: true}, true, nil
	}
	return Receipt{}, false, nil
}

// Re-running a delivered broadcast must not wait for rate tokens: 300 skips
// at 5/s would take a minute.
func TestSettledTargetsTakeNoTokenAndNoCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &settlingSender{done: map[int]bool{}}
		s.fn = func(context.Context, Target, int) (Receipt, error) { return Receipt{PeerID: 1, MessageID: 1}, nil }
		targets := makeTargets(300)
		for i := 0; i < 299; i++ {
			s.done[i] = true
		}
		var rec recorder
		start := time.Now()
		sum := Run(t.Context(), targets, s, rec.with(Options{Concurrency: 8, Rate: 5, Burst: 1}))
		if sum.Skipped != 299 || sum.Sent != 1 {
			t.Fatalf("summary %+v, want 299 skipped, 1 sent", sum)
		}
		if len(s.calls) != 1 || s.calls[0].index != 299 {
			t.Fatalf("calls %+v, want one send, to target 299", s.calls)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("run took %s of fake time: skips waited for rate tokens", d)
		}
		checkCounts(t, sum)
	})
}

func TestSettledDuplicateIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &settlingSender{}
		s.fn = func(context.Context, Target, int) (Receipt, error) { return Receipt{PeerID: 1, MessageID: 1}, nil }
		targets := []Target{{Index: 0, Recipient: "@a"}, {Index: 1, Recipient: "@a-again"}}
		sum := Run(t.Context(), targets, s, Options{})
		if sum.Total != 1 || sum.Sent != 1 {
			t.Fatalf("summary %+v, want 1 total, 1 sent", sum)
		}
	})
}

// --max-flood-wait 0: never sit out a flood wait.
func TestNeverWaitFailsAtFirstFloodWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{fn: func(context.Context, Target, int) (Receipt, error) {
			return Receipt{}, &FloodWaitError{Wait: 2 * time.Second}
		}}
		var rec recorder
		start := time.Now()
		sum := Run(t.Context(), makeTargets(3), s, rec.with(Options{MaxFloodWait: NeverWait}))
		if sum.Failed != 3 || time.Since(start) != 0 {
			t.Fatalf("summary %+v after %s, want 3 failed at once", sum, time.Since(start))
		}
		for _, res := range rec.byIndex(t) {
			if !errors.Is(res.Err, ErrFloodWaitTooLong) || res.Attempts != 1 {
				t.Fatalf("result %+v, want flood wait too long after 1 attempt", res)
			}
		}
	})
}
