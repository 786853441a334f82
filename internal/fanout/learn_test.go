package fanout

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// bucketServer answers like a server with a per-account rate: a token bucket
// of one second's worth, FLOOD_WAIT_X (whole seconds) when empty.
type bucketServer struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
	floods int
	sent   int
}

func (b *bucketServer) send(context.Context, Target, int) (Receipt, error) {
	time.Sleep(5 * time.Millisecond) // the round trip
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
		wait := time.Duration(math.Ceil((1-b.tokens)/b.rate)) * time.Second
		return Receipt{}, &FloodWaitError{Wait: wait}
	}
	b.tokens--
	b.sent++
	return Receipt{}, nil
}

// With no rate of its own, the engine meets the server's limit once, learns
// the rate from it and keeps under it: few flood waits, and close to the
// N/R bound.
func TestLearnsTheServerRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, serverRate = 500, 50.0
		srv := &bucketServer{rate: serverRate}
		s := &fakeSender{fn: srv.send}
		sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: 16})
		if sum.Sent != n {
			t.Fatalf("sent %d of %d", sum.Sent, n)
		}
		ideal := time.Duration(float64(n) / serverRate * float64(time.Second))
		if eff := ideal.Seconds() / sum.Duration.Seconds(); eff < 0.85 {
			t.Errorf("took %s for an ideal %s (efficiency %.2f)", sum.Duration, ideal, eff)
		}
		if srv.floods > 2*16 {
			t.Errorf("%d flood waits: the engine did not learn the rate", srv.floods)
		}
		t.Logf("%d targets in %s (ideal %s), %d flood waits", n, sum.Duration, ideal, srv.floods)
	})
}

// A user who gives the server's real rate gets it: the rate learned from the
// opening wall errs low and climbs back to the given one.
func TestLearnedRateClimbsBackToTheGivenRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, serverRate = 500, 50.0
		srv := &bucketServer{rate: serverRate}
		s := &fakeSender{fn: srv.send}
		sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: 8, Rate: serverRate, Burst: 60}) // a burst the server refuses
		if sum.Sent != n {
			t.Fatalf("sent %d of %d", sum.Sent, n)
		}
		ideal := time.Duration(float64(n) / serverRate * float64(time.Second))
		if eff := ideal.Seconds() / sum.Duration.Seconds(); eff < 0.9 {
			t.Errorf("took %s for an ideal %s (efficiency %.2f)", sum.Duration, ideal, eff)
		}
		if srv.floods > 8 {
			t.Errorf("%d flood waits", srv.floods)
		}
		t.Logf("%d targets in %s (ideal %s), %d flood waits", n, sum.Duration, ideal, srv.floods)
	})
}

// Flood waits of sends already in flight when the gate closed must not drag
// the learned rate to the floor (they carry no news about the rate).
func TestInFlightFloodWaitsDoNotCollapseTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 300
		srv := &bucketServer{rate: 50}
		s := &fakeSender{fn: srv.send}
		sum := Run(context.Background(), makeTargets(n), s, Options{Concurrency: 32})
		if sum.Sent != n || sum.Duration > 10*time.Second {
			t.Fatalf("sent %d of %d in %s (ideal 6s): the rate collapsed", sum.Sent, n, sum.Duration)
		}
		t.Logf("%d in %s, %d flood waits", n, sum.Duration, srv.floods)
	})
}
