package fanout

import (
	"context"
	"sync"
	"time"
)

// gate is the shared flood gate: closed until a point in time that only ever
// moves later. A flood wait is imposed on the account, not on one request, so
// every worker must hold off, not just the one that was told.
type gate struct {
	mu    sync.Mutex
	until time.Time
}

func (g *gate) closedUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// open reports whether a send may start now.
func (g *gate) open() bool {
	return !time.Now().Before(g.closedUntil())
}

// wait blocks until the gate is open or ctx is done, and returns how long it
// waited. It looks again after each wake-up because the closing may have been
// extended meanwhile.
func (g *gate) wait(ctx context.Context) (time.Duration, error) {
	var waited time.Duration
	for {
		d := time.Until(g.closedUntil())
		if d <= 0 {
			return waited, nil
		}
		start := time.Now()
		err := sleep(ctx, d)
		waited += time.Since(start)
		if err != nil {
			return waited, err
		}
	}
}
