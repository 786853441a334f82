package fanout

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// call is one recorded Send.
type call struct {
	index   int
	attempt int // 1-based, per target
	at      time.Time
}

// fakeSender records every Send and answers with fn (success when fn is nil).
type fakeSender struct {
	fn func(ctx context.Context, t Target, attempt int) (Receipt, error)

	mu       sync.Mutex
	calls    []call
	attempts map[int]int

	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

func (f *fakeSender) Send(ctx context.Context, t Target) (Receipt, error) {
	f.mu.Lock()
	if f.attempts == nil {
		f.attempts = make(map[int]int)
	}
	f.attempts[t.Index]++
	n := f.attempts[t.Index]
	f.calls = append(f.calls, call{index: t.Index, attempt: n, at: time.Now()})
	f.mu.Unlock()

	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if cur <= m || f.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.fn == nil {
		return okReceipt(t), nil
	}
	return f.fn(ctx, t, n)
}

func (f *fakeSender) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func okReceipt(t Target) Receipt {
	return Receipt{PeerID: int64(1000 + t.Index), MessageID: t.Index + 1}
}

// recorder collects callbacks and notices if two ever overlap.
type recorder struct {
	busy    atomic.Bool
	overlap atomic.Bool
	results []Result
	waits   []WaitEvent
}

func (r *recorder) enter() {
	if !r.busy.CompareAndSwap(false, true) {
		r.overlap.Store(true)
	}
}

func (r *recorder) leave() { r.busy.Store(false) }

// with returns o with the recorder's callbacks installed.
func (r *recorder) with(o Options) Options {
	o.OnResult = func(res Result) {
		r.enter()
		defer r.leave()
		r.results = append(r.results, res)
	}
	o.OnWait = func(e WaitEvent) {
		r.enter()
		defer r.leave()
		r.waits = append(r.waits, e)
	}
	return o
}

// byIndex returns the results by target index, failing the test if a target
// was reported twice or callbacks overlapped.
func (r *recorder) byIndex(t *testing.T) map[int]Result {
	t.Helper()
	if r.overlap.Load() {
		t.Error("callbacks ran concurrently")
	}
	m := make(map[int]Result, len(r.results))
	for _, res := range r.results {
		if _, dup := m[res.Target.Index]; dup {
			t.Errorf("target %d reported twice", res.Target.Index)
		}
		m[res.Target.Index] = res
	}
	return m
}

func makeTargets(n int) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{Index: i, Recipient: fmt.Sprintf("@friend%d", i)}
	}
	return ts
}

// checkCounts asserts that the summary adds up.
func checkCounts(t *testing.T, s Summary) {
	t.Helper()
	if got := s.Sent + s.Failed + s.Skipped + s.Pending + s.NotStarted; got != s.Total {
		t.Errorf("Sent+Failed+Skipped+Pending+NotStarted = %d, Total = %d (%+v)", got, s.Total, s)
	}
}
