package fanout

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// wiredSender sends like delivery does: the request on the wire (marked
// with Wire) is quick, the journal commit after it is what takes the time,
// and commits release every worker that waited for them at once.
type wiredSender struct {
	srv     *bucketServer
	wire    time.Duration
	commit  time.Duration
	resolve time.Duration // a resolve on the wire before the send (0: none)

	mu   sync.Mutex
	next time.Time // when the current shared commit lands
}

func (s *wiredSender) Send(ctx context.Context, t Target) (Receipt, error) {
	if s.resolve > 0 {
		done, err := Wire(ctx, "resolve")
		if err != nil {
			return Receipt{}, err
		}
		time.Sleep(s.resolve)
		done(nil)
	}
	done, err := Wire(ctx, "send")
	if err != nil {
		return Receipt{}, err
	}
	time.Sleep(s.wire)
	_, err = s.srv.take()
	done(err)
	if err != nil {
		return Receipt{}, err
	}
	// Wait for the batch commit that this send's journal write joined.
	s.mu.Lock()
	now := time.Now()
	if !s.next.After(now) {
		s.next = now.Add(s.commit)
	}
	until := s.next
	s.mu.Unlock()
	time.Sleep(time.Until(until))
	return okReceipt(t), nil
}

// take is bucketServer.send without its own round trip.
func (b *bucketServer) take() (Receipt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = b.rate
	} else {
		b.tokens = math.Min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		b.floods++
		return Receipt{}, &FloodWaitError{Wait: time.Duration(math.Ceil((1-b.tokens)/b.rate)) * time.Second}
	}
	b.tokens--
	b.sent++
	return Receipt{}, nil
}

// The tool is not told the server's rate: it meets the limit once, with
// no more than two requests out (the wire is fast, so two are all the
// journal-bound workers need), learns the rate from that wall and keeps
// under it, close to the (N − R) / R that the server's full bucket allows.
func TestOneWall(t *testing.T) {
	for _, tc := range []struct {
		rate    float64
		resolve time.Duration // first sends resolve each recipient too
	}{{20, 0}, {50, 0}, {100, 0}, {20, 500 * time.Microsecond}, {50, 500 * time.Microsecond}} {
		rate := tc.rate
		synctest.Test(t, func(t *testing.T) {
			const n = 500
			srv := &bucketServer{rate: rate}
			s := &wiredSender{srv: srv, wire: 500 * time.Microsecond, commit: 4 * time.Millisecond, resolve: tc.resolve}
			var waits int
			sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: 8, OnWait: func(WaitEvent) { waits++ }})
			if sum.Sent != n {
				t.Fatalf("%g/s: sent %d of %d", rate, sum.Sent, n)
			}
			ideal := time.Duration((n - rate) / rate * float64(time.Second))
			if r := sum.Duration.Seconds() / ideal.Seconds(); r > 1.05 {
				t.Errorf("%g/s: took %s, %.3f × the ideal %s", rate, sum.Duration, r, ideal)
			}
			// A flood wait that comes back later than the first extends
			// the gate, and is announced as such.
			if srv.floods > 2 || waits < 1 || waits > srv.floods {
				t.Errorf("%g/s: %d flood waits answered, %d announced; want at most 2, each announced at most once", rate, srv.floods, waits)
			}
		})
	}
}

// A request gated while it waited for the wire is not an attempt: it goes
// back to the gate and out again once the gate opens.
func TestGatedRequestsAreNotAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &bucketServer{rate: 10}
		s := &wiredSender{srv: srv, wire: 50 * time.Millisecond, commit: time.Millisecond}
		var rec recorder
		sum := Run(context.Background(), makeTargets(30), s, rec.with(Options{Concurrency: 8}))
		if sum.Sent != 30 {
			t.Fatalf("sent %d of 30", sum.Sent)
		}
		for i, res := range rec.byIndex(t) {
			// One attempt, plus one per flood wait this target met.
			if res.Attempts < 1 || res.Attempts > 3 {
				t.Errorf("target %d: %d attempts", i, res.Attempts)
			}
		}
	})
}

// With no rate given, a learned rate is probed upwards now and then: a
// server that raises its limit later is found again.
func TestRaisedLimitIsFoundAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 4000
		srv := &bucketServer{rate: 20}
		start := time.Now()
		go func() {
			time.Sleep(60 * time.Second)
			srv.mu.Lock()
			srv.rate = 60
			srv.mu.Unlock()
		}()
		s := &wiredSender{srv: srv, wire: time.Millisecond, commit: 4 * time.Millisecond}
		sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: 8})
		if sum.Sent != n {
			t.Fatalf("sent %d of %d", sum.Sent, n)
		}
		// At 20/s throughout it would take 200s; at 60/s from the minute
		// on, about 114s.
		took := time.Since(start)
		if took > 150*time.Second {
			t.Errorf("took %s: the raised limit was not found", took)
		}
		t.Logf("%d in %s, %d flood waits", n, took, srv.floods)
	})
}

// When latency dominates, every worker needs its slot on the wire, even
// when they all come back at once: a first send that resolves and then
// sends, each taking the network's 50ms, goes at full concurrency.
func TestLatencyBoundKeepsEveryWorkerOnTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, c = 1000, 64
		lat := 50 * time.Millisecond
		s := &wiredSender{srv: &bucketServer{rate: 1e9}, wire: lat, resolve: lat, commit: time.Millisecond}
		sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: c})
		if sum.Sent != n {
			t.Fatalf("sent %d of %d", sum.Sent, n)
		}
		// 16 rounds of resolve + send, and a commit's wait each.
		ideal := 16 * (2*lat + time.Millisecond)
		if sum.Duration > ideal*102/100 {
			t.Errorf("took %s, ideal %s: the window held workers back", sum.Duration, ideal)
		}
	})
}
