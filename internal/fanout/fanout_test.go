package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestConcurrencyLimit(t *testing.T) {
	for _, tc := range []struct {
		concurrency int
		want        int64
	}{
		{concurrency: 8, want: 8},
		{concurrency: 0, want: 1}, // <=0 means 1
	} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
					time.Sleep(100 * time.Millisecond)
					return okReceipt(tg), nil
				}}
				sum := Run(t.Context(), makeTargets(100), s, Options{Concurrency: tc.concurrency})
				if got := s.maxInFlight.Load(); got != tc.want {
					t.Errorf("max in flight = %d, want %d", got, tc.want)
				}
				if sum.Sent != 100 {
					t.Errorf("Sent = %d, want 100", sum.Sent)
				}
			})
		})
	}
}

func TestEveryTargetGetsOneResult(t *testing.T) {
	const n = 1000
	errBlocked := errors.New("USER_IS_BLOCKED")
	s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
		switch tg.Index % 10 {
		case 0:
			return Receipt{}, errBlocked
		case 1:
			return Receipt{Skipped: true}, nil
		}
		return okReceipt(tg), nil
	}}
	var rec recorder
	sum := Run(context.Background(), makeTargets(n), s, rec.with(Options{Concurrency: 16}))

	got := rec.byIndex(t)
	if len(got) != n {
		t.Fatalf("%d targets reported, want %d", len(got), n)
	}
	for i := range n {
		res, ok := got[i]
		if !ok {
			t.Fatalf("target %d has no result", i)
		}
		if res.Target.Recipient != fmt.Sprintf("@friend%d", i) {
			t.Errorf("target %d: recipient %q", i, res.Target.Recipient)
		}
		if res.Attempts != 1 {
			t.Errorf("target %d: %d attempts, want 1", i, res.Attempts)
		}
	}
	want := Summary{Total: n, Sent: 800, Failed: 100, Skipped: 100}
	if sum.Total != want.Total || sum.Sent != want.Sent || sum.Failed != want.Failed || sum.Skipped != want.Skipped || sum.NotStarted != 0 {
		t.Errorf("summary = %+v, want counts %+v", sum, want)
	}
	if sum.Stopped != nil || sum.Interrupted {
		t.Errorf("summary = %+v, want neither stopped nor interrupted", sum)
	}
	checkCounts(t, sum)
}

func TestFailuresAreIsolated(t *testing.T) {
	errPrivacy := errors.New("USER_PRIVACY_RESTRICTED")
	failing := map[int]bool{3: true, 7: true, 11: true}
	s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
		if failing[tg.Index] {
			return Receipt{}, errPrivacy
		}
		return okReceipt(tg), nil
	}}
	var rec recorder
	sum := Run(context.Background(), makeTargets(20), s, rec.with(Options{Concurrency: 4}))

	for i, res := range rec.byIndex(t) {
		if failing[i] {
			if res.Status != StatusFailed || !errors.Is(res.Err, errPrivacy) || res.Attempts != 1 {
				t.Errorf("target %d = %+v, want failed once with %v", i, res, errPrivacy)
			}
			continue
		}
		if res.Status != StatusSent || res.Err != nil || res.Receipt != okReceipt(res.Target) {
			t.Errorf("target %d = %+v, want sent", i, res)
		}
	}
	if sum.Sent != 17 || sum.Failed != 3 || sum.Stopped != nil {
		t.Errorf("summary = %+v, want 17 sent, 3 failed, not stopped", sum)
	}
	checkCounts(t, sum)
}

func TestTemporaryRetriesThenSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errTimeout := errors.New("i/o timeout")
		s := &fakeSender{fn: func(_ context.Context, tg Target, attempt int) (Receipt, error) {
			if attempt <= 3 {
				return Receipt{}, Temporary(errTimeout)
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(1), s, rec.with(Options{}))

		res := rec.byIndex(t)[0]
		if res.Status != StatusSent || res.Err != nil || res.Attempts != 4 {
			t.Fatalf("result = %+v, want sent after 4 attempts", res)
		}
		// Backoffs of 500ms, 1s and 2s, each jittered down to no less than half.
		if lo, hi := 1750*time.Millisecond, 3500*time.Millisecond; res.Duration < lo || res.Duration > hi {
			t.Errorf("duration = %v, want within [%v, %v]", res.Duration, lo, hi)
		}
		if sum.Sent != 1 {
			t.Errorf("summary = %+v, want 1 sent", sum)
		}
	})
}

func TestTemporaryGivesUpAfterRetryFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errTimeout := errors.New("i/o timeout")
		s := &fakeSender{fn: func(context.Context, Target, int) (Receipt, error) {
			return Receipt{}, Temporary(errTimeout)
		}}
		var rec recorder
		const retryFor = 30 * time.Second
		sum := Run(t.Context(), makeTargets(1), s, rec.with(Options{RetryFor: retryFor}))

		res := rec.byIndex(t)[0]
		if res.Status != StatusFailed || !errors.Is(res.Err, errTimeout) || !IsTemporary(res.Err) {
			t.Fatalf("result = %+v, want failed with the last temporary error", res)
		}
		if res.Attempts < 2 {
			t.Errorf("attempts = %d, want retries", res.Attempts)
		}
		if res.Duration < retryFor || res.Duration > retryFor+maxBackoff {
			t.Errorf("duration = %v, want about RetryFor %v", res.Duration, retryFor)
		}
		if sum.Failed != 1 || sum.Interrupted {
			t.Errorf("summary = %+v, want 1 failed", sum)
		}
	})
}

func TestFloodWaitPausesEveryWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wait = 30 * time.Second
		var (
			mu      sync.Mutex
			floodAt time.Time
		)
		s := &fakeSender{fn: func(_ context.Context, tg Target, attempt int) (Receipt, error) {
			time.Sleep(100 * time.Millisecond)
			if tg.Index == 5 && attempt == 1 {
				mu.Lock()
				floodAt = time.Now()
				mu.Unlock()
				return Receipt{}, &FloodWaitError{Wait: wait, Err: errors.New("FLOOD_WAIT (30)")}
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(40), s, rec.with(Options{Concurrency: 4}))

		if floodAt.IsZero() {
			t.Fatal("no flood wait was returned")
		}
		reopen := floodAt.Add(wait)
		resumed := false
		for _, c := range s.recorded() {
			if c.at.After(floodAt) && c.at.Before(reopen) {
				t.Errorf("target %d attempt %d started %v into the flood wait", c.index, c.attempt, c.at.Sub(floodAt))
			}
			resumed = resumed || !c.at.Before(reopen)
		}
		if !resumed {
			t.Error("no send after the flood wait")
		}
		if len(rec.waits) != 1 {
			t.Fatalf("OnWait called %d times, want 1: %+v", len(rec.waits), rec.waits)
		}
		if e := rec.waits[0]; e.Wait != wait || !e.Until.Equal(reopen) || e.Target.Index != 5 {
			t.Errorf("wait event = %+v, want %v until %v for target 5", e, wait, reopen)
		}
		if res := rec.byIndex(t)[5]; res.Status != StatusSent || res.Attempts != 2 {
			t.Errorf("flooded target = %+v, want sent on attempt 2", res)
		}
		if sum.Sent != 40 || sum.Duration < wait {
			t.Errorf("summary = %+v, want all 40 sent after the wait", sum)
		}
		checkCounts(t, sum)
	})
}

func TestFloodWaitExtendsNeverShortens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		// All three are on the wire at once, each told to wait later on.
		floods := map[int]struct{ after, wait time.Duration }{
			0: {1 * time.Second, 10 * time.Second}, // closes until 11s
			1: {2 * time.Second, 5 * time.Second},  // until 7s: earlier, ignored
			2: {3 * time.Second, 20 * time.Second}, // until 23s: extends
		}
		s := &fakeSender{fn: func(_ context.Context, tg Target, attempt int) (Receipt, error) {
			if f, ok := floods[tg.Index]; ok && attempt == 1 {
				time.Sleep(f.after)
				return Receipt{}, &FloodWaitError{Wait: f.wait}
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(3), s, rec.with(Options{Concurrency: 3}))

		if len(rec.waits) != 2 {
			t.Fatalf("wait events = %+v, want 2", rec.waits)
		}
		for i, want := range []struct {
			target int
			until  time.Duration
		}{{0, 11 * time.Second}, {2, 23 * time.Second}} {
			if e := rec.waits[i]; e.Target.Index != want.target || e.Until.Sub(start) != want.until {
				t.Errorf("wait event %d = %+v, want target %d until +%v", i, e, want.target, want.until)
			}
		}
		for _, c := range s.recorded() {
			if c.attempt > 1 && c.at.Sub(start) < 23*time.Second {
				t.Errorf("target %d retried at +%v, before the gate reopened", c.index, c.at.Sub(start))
			}
		}
		if sum.Sent != 3 {
			t.Errorf("summary = %+v, want 3 sent", sum)
		}
	})
}

func TestFloodWaitUnderOneSecondIsOneSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{fn: func(_ context.Context, tg Target, attempt int) (Receipt, error) {
			if attempt == 1 {
				return Receipt{}, &FloodWaitError{Wait: 0}
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(1), s, rec.with(Options{}))
		if len(rec.waits) != 1 || rec.waits[0].Wait != time.Second {
			t.Errorf("wait events = %+v, want one of 1s", rec.waits)
		}
		if sum.Sent != 1 || sum.Duration != time.Second {
			t.Errorf("summary = %+v, want sent after 1s", sum)
		}
	})
}

func TestFloodWaitTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errFlood := errors.New("FLOOD_WAIT (600)")
		s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
			if tg.Index == 2 {
				return Receipt{}, &FloodWaitError{Wait: 10 * time.Minute, Err: errFlood}
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(6), s, rec.with(Options{Concurrency: 2, MaxFloodWait: time.Minute}))

		res := rec.byIndex(t)[2]
		if res.Status != StatusFailed || res.Attempts != 1 {
			t.Fatalf("result = %+v, want failed at once", res)
		}
		var fw *FloodWaitError
		if !errors.Is(res.Err, ErrFloodWaitTooLong) || !errors.Is(res.Err, errFlood) || !errors.As(res.Err, &fw) || fw.Wait != 10*time.Minute {
			t.Errorf("err = %v, want ErrFloodWaitTooLong wrapping the flood wait", res.Err)
		}
		var tooLong *FloodWaitTooLongError
		if !errors.As(res.Err, &tooLong) || tooLong.Wait != 10*time.Minute || tooLong.Max != time.Minute {
			t.Errorf("err = %#v, want the wait and the limit in a *FloodWaitTooLongError", res.Err)
		}
		if len(rec.waits) != 0 {
			t.Errorf("wait events = %+v, want none", rec.waits)
		}
		if sum.Sent != 5 || sum.Failed != 1 || sum.Duration != 0 {
			t.Errorf("summary = %+v, want the others sent without pause", sum)
		}
	})
}

func TestFloodWaitsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{fn: func(context.Context, Target, int) (Receipt, error) {
			return Receipt{}, &FloodWaitError{Wait: time.Second}
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(1), s, rec.with(Options{}))
		res := rec.byIndex(t)[0]
		var fw *FloodWaitError
		if res.Status != StatusFailed || res.Attempts != maxFloodWaits || !errors.As(res.Err, &fw) {
			t.Errorf("result = %+v, want failed after %d flood waits", res, maxFloodWaits)
		}
		if sum.Failed != 1 {
			t.Errorf("summary = %+v", sum)
		}
	})
}

func TestFatalStopsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errPeerFlood := errors.New("PEER_FLOOD")
		errTimeout := errors.New("i/o timeout")
		s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
			switch tg.Index {
			case 0: // keeps retrying: waiting at backoff when the run stops
				return Receipt{}, Temporary(errTimeout)
			case 1:
				time.Sleep(time.Second)
				return Receipt{}, Fatal(errPeerFlood)
			case 2: // on the wire when the run stops
				time.Sleep(2 * time.Second)
			}
			return okReceipt(tg), nil
		}}
		var rec recorder
		sum := Run(t.Context(), makeTargets(10), s, rec.with(Options{Concurrency: 3}))

		got := rec.byIndex(t)
		if len(got) != 10 {
			t.Fatalf("%d results, want 10", len(got))
		}
		if res := got[1]; res.Status != StatusFailed || !IsFatal(res.Err) || !errors.Is(res.Err, errPeerFlood) || errors.Is(res.Err, ErrNotSent) {
			t.Errorf("fatal target = %+v, want failed with the fatal error", res)
		}
		if res := got[2]; res.Status != StatusSent || res.Duration != 2*time.Second {
			t.Errorf("in-flight target = %+v, want sent after 2s", res)
		}
		// It was tried and its answers lost: it may have arrived.
		if res := got[0]; res.Status != StatusPending || !errors.Is(res.Err, ErrNotSent) || !errors.Is(res.Err, errPeerFlood) || res.Attempts < 2 {
			t.Errorf("retrying target = %+v, want pending after a few attempts", res)
		}
		for i := 3; i < 10; i++ {
			res := got[i]
			if res.Status != StatusNotSent || !errors.Is(res.Err, ErrNotSent) || !errors.Is(res.Err, errPeerFlood) || res.Attempts != 0 {
				t.Errorf("target %d = %+v, want not sent", i, res)
			}
			if want := "not sent: run stopped: PEER_FLOOD"; res.Err.Error() != want {
				t.Errorf("target %d err = %q, want %q", i, res.Err, want)
			}
		}
		for _, c := range s.recorded() {
			if c.index >= 3 {
				t.Errorf("target %d was sent after the stop", c.index)
			}
		}
		if !errors.Is(sum.Stopped, errPeerFlood) || !IsFatal(sum.Stopped) {
			t.Errorf("Stopped = %v, want the fatal error", sum.Stopped)
		}
		if sum.Sent != 1 || sum.Failed != 1 || sum.Pending != 1 || sum.NotStarted != 7 || sum.Interrupted {
			t.Errorf("summary = %+v, want 1 sent, 1 failed (the fatal one), 1 pending, 7 not sent", sum)
		}
		checkCounts(t, sum)
	})
}

func TestCancelLetsInFlightSendsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var (
			mu      sync.Mutex
			ctxErrs []error
		)
		s := &fakeSender{fn: func(ctx context.Context, tg Target, _ int) (Receipt, error) {
			time.Sleep(time.Second)
			mu.Lock()
			ctxErrs = append(ctxErrs, ctx.Err())
			mu.Unlock()
			return okReceipt(tg), nil
		}}
		var rec recorder
		done := make(chan Summary)
		go func() { done <- Run(ctx, makeTargets(20), s, rec.with(Options{Concurrency: 4})) }()

		time.Sleep(1500 * time.Millisecond) // targets 4-7 are on the wire
		synctest.Wait()
		cancel()
		atCancel := len(s.recorded())
		sum := <-done

		if n := len(s.recorded()); n != atCancel || n != 8 {
			t.Errorf("%d sends at cancel, %d at the end; want 8 and no new ones", atCancel, n)
		}
		for _, err := range ctxErrs {
			if err != nil {
				t.Errorf("Send saw its context cancelled: %v", err)
			}
		}
		got := rec.byIndex(t)
		for i := range 8 {
			if got[i].Status != StatusSent {
				t.Errorf("target %d = %+v, want sent", i, got[i])
			}
		}
		if len(got) != 8 {
			t.Errorf("%d results, want 8: targets never attempted get none", len(got))
		}
		if sum.Sent != 8 || sum.NotStarted != 12 || !sum.Interrupted || sum.Stopped != nil || sum.Duration != 2*time.Second {
			t.Errorf("summary = %+v, want 8 sent, 12 not started, interrupted after 2s", sum)
		}
		checkCounts(t, sum)
	})
}

func TestCancelInterruptsWaiting(t *testing.T) {
	t.Run("backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			errTimeout := errors.New("i/o timeout")
			s := &fakeSender{fn: func(context.Context, Target, int) (Receipt, error) {
				return Receipt{}, Temporary(errTimeout)
			}}
			var rec recorder
			time.AfterFunc(3*time.Second, cancel)
			sum := Run(ctx, makeTargets(1), s, rec.with(Options{}))

			res := rec.byIndex(t)[0]
			if res.Status != StatusPending || !errors.Is(res.Err, ErrInterrupted) || !errors.Is(res.Err, errTimeout) || res.Attempts < 2 {
				t.Errorf("result = %+v, want pending (outcome unknown) after retries", res)
			}
			if !sum.Interrupted || sum.Pending != 1 || sum.Failed != 0 || sum.Duration != 3*time.Second {
				t.Errorf("summary = %+v, want interrupted at 3s", sum)
			}
			checkCounts(t, sum)
		})
	})
	t.Run("flood gate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s := &fakeSender{fn: func(context.Context, Target, int) (Receipt, error) {
				return Receipt{}, &FloodWaitError{Wait: time.Minute}
			}}
			var rec recorder
			time.AfterFunc(10*time.Second, cancel)
			sum := Run(ctx, makeTargets(3), s, rec.with(Options{}))

			// A flood wait is a refusal: the target certainly did not get
			// the message, so it is not sent, not pending or failed.
			if got := rec.byIndex(t); len(got) != 0 {
				t.Fatalf("results = %+v, want none", got)
			}
			if sum.Failed != 0 || sum.Pending != 0 || sum.NotStarted != 3 || !sum.Interrupted || sum.Duration != 10*time.Second {
				t.Errorf("summary = %+v, want 3 not sent after 10s", sum)
			}
			checkCounts(t, sum)
		})
	})
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			rate  = 10
			burst = 1
		)
		s := &fakeSender{}
		sum := Run(t.Context(), makeTargets(50), s, Options{Concurrency: 8, Rate: rate, Burst: burst})

		if sum.Sent != 50 {
			t.Fatalf("summary = %+v, want 50 sent", sum)
		}
		if sum.Duration < 4500*time.Millisecond || sum.Duration > 5500*time.Millisecond {
			t.Errorf("duration = %v, want about 5s", sum.Duration)
		}
		calls := s.recorded()
		for i, c := range calls {
			n := 0
			for _, d := range calls {
				if !d.at.Before(c.at) && d.at.Sub(c.at) < time.Second {
					n++
				}
			}
			if n > rate+burst {
				t.Fatalf("%d sends in the second after call %d, want at most %d", n, i, rate+burst)
			}
		}
	})
}

func TestDuplicatesAreDropped(t *testing.T) {
	s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
		if tg.Index == 2 || tg.Index == 5 {
			return Receipt{}, fmt.Errorf("%s: %w", tg.Recipient, ErrDuplicate)
		}
		return okReceipt(tg), nil
	}}
	var rec recorder
	sum := Run(context.Background(), makeTargets(10), s, rec.with(Options{Concurrency: 3}))

	got := rec.byIndex(t)
	if _, ok := got[2]; ok {
		t.Error("duplicate target 2 has a result")
	}
	if _, ok := got[5]; ok {
		t.Error("duplicate target 5 has a result")
	}
	if len(got) != 8 || sum.Total != 8 || sum.Sent != 8 || sum.Failed != 0 {
		t.Errorf("%d results, summary = %+v; want 8 of each", len(got), sum)
	}
	checkCounts(t, sum)
}

func TestSkippedReceipts(t *testing.T) {
	s := &fakeSender{fn: func(_ context.Context, tg Target, _ int) (Receipt, error) {
		r := okReceipt(tg)
		r.Skipped = tg.Index%2 == 0
		return r, nil
	}}
	var rec recorder
	sum := Run(context.Background(), makeTargets(10), s, rec.with(Options{Concurrency: 3}))

	for i, res := range rec.byIndex(t) {
		want := StatusSent
		if i%2 == 0 {
			want = StatusSkipped
		}
		if res.Status != want || res.Err != nil || res.Receipt.PeerID != int64(1000+i) {
			t.Errorf("target %d = %+v, want %s", i, res, want)
		}
	}
	if sum.Skipped != 5 || sum.Sent != 5 || sum.Total != 10 {
		t.Errorf("summary = %+v, want 5 skipped, 5 sent", sum)
	}
	checkCounts(t, sum)
}

func TestNoTargets(t *testing.T) {
	sum := Run(context.Background(), nil, &fakeSender{}, Options{})
	if sum != (Summary{Duration: sum.Duration}) {
		t.Errorf("summary = %+v, want empty", sum)
	}
}

func BenchmarkRun(b *testing.B) {
	targets := makeTargets(10_000)
	s := nopSender{}
	opts := Options{Concurrency: 64, OnResult: func(Result) {}}
	b.ReportAllocs()
	runs := 0
	for b.Loop() {
		Run(context.Background(), targets, s, opts)
		runs++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*len(targets)), "ns/recipient")
}

type nopSender struct{}

func (nopSender) Send(context.Context, Target) (Receipt, error) { return Receipt{}, nil }
