package store

import (
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	// batchDelay is how long a change waits for others to join its commit,
	// as bbolt's Batch.MaxBatchDelay, and maxBatch how many make a commit
	// start at once. Writers that wait for their commit pay the delay, so it
	// is short next to a commit's two fdatasyncs; it also spaces the
	// workers a run releases together, which keeps them from meeting a
	// server's rate limit all at once (bench row 2).
	batchDelay = 2 * time.Millisecond
	maxBatch   = 1000
)

// committer groups the store's small writes into shared commits, as bbolt's
// Batch does, but without a goroutine per waiting caller: a send queues its
// journal mark and goes on, and is told the outcome by a callback. One
// goroutine at a time commits what was queued within batchDelay of the
// first change in one transaction (one fsync); what arrives while it
// commits goes in the next. At 10,000 recipients Batch kept some 200
// goroutines parked in it at once, whose stacks alone were 2 MB.
type committer struct {
	mu      sync.Mutex
	queue   []commitOp
	first   time.Time     // when the first change in queue came
	full    chan struct{} // signalled when the queue reaches maxBatch
	running bool
	idle    sync.WaitGroup // held while a commit goroutine runs
}

type commitOp struct {
	fn   func(*bolt.Tx) error
	done func(error)
}

// batchAsync runs fn in a read-write transaction that it may share with
// other callers and then calls done with the result, on the committing
// goroutine: done must not block. fn may run more than once (a shared
// commit that fails is tried again without the change that failed) and must
// not have side effects outside tx.
func (s *Store) batchAsync(fn func(*bolt.Tx) error, done func(error)) {
	if s.Snapshot() {
		done(ErrReadOnly)
		return
	}
	c := &s.commits
	c.mu.Lock()
	if c.full == nil {
		c.full = make(chan struct{}, 1)
	}
	if len(c.queue) == 0 {
		c.first = time.Now()
	}
	c.queue = append(c.queue, commitOp{fn: fn, done: done})
	if len(c.queue) == maxBatch {
		select {
		case c.full <- struct{}{}:
		default:
		}
	}
	start := !c.running
	if start {
		c.running = true
		c.idle.Add(1)
	}
	c.mu.Unlock()
	if start {
		go s.commitQueued()
	}
}

// batchResult is batchAsync with the result on a channel, err wrapped by
// wrap (which runs only on failure, so a caller's message costs nothing on
// success).
func (s *Store) batchResult(fn func(*bolt.Tx) error, wrap func(error) error) <-chan error {
	result := make(chan error, 1)
	s.batchAsync(fn, func(err error) {
		if err != nil {
			err = wrap(err)
		}
		result <- err
	})
	return result
}

// batch is batchAsync for a caller that waits.
func (s *Store) batch(fn func(*bolt.Tx) error) error {
	ch := make(chan error, 1)
	s.batchAsync(fn, func(err error) { ch <- err })
	return <-ch
}

// commitQueued commits until the queue is empty, each batch once its first
// change has waited batchDelay or the queue is full.
func (s *Store) commitQueued() {
	c := &s.commits
	defer c.idle.Done()
	for {
		c.mu.Lock()
		wait := time.Until(c.first.Add(batchDelay))
		full, fullCh := len(c.queue) >= maxBatch, c.full
		c.mu.Unlock()
		if !full && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-fullCh:
				t.Stop()
			}
		}
		c.mu.Lock()
		ops := c.queue
		c.queue = nil
		c.mu.Unlock()
		s.commit(ops)
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// commit applies ops in one transaction. A change that fails rolls the
// transaction back; it is then run alone, so that its error is its own,
// and the others are committed without it.
func (s *Store) commit(ops []commitOp) {
	for len(ops) > 0 {
		failed := -1
		err := guard(s.path, func() error {
			return s.db.Update(func(tx *bolt.Tx) error {
				for i, op := range ops {
					// A panic (a damaged page) is this change's failure.
					if err := guard(s.path, func() error { return op.fn(tx) }); err != nil {
						failed = i
						return err
					}
				}
				return nil
			})
		})
		if failed < 0 {
			for _, op := range ops {
				op.done(err) // nil, or the commit's own failure
			}
			return
		}
		solo := ops[failed]
		solo.done(s.update(solo.fn))
		ops = append(ops[:failed:failed], ops[failed+1:]...)
	}
}

// wait returns once every queued change is committed.
func (c *committer) wait() { c.idle.Wait() }

// failed is a result channel that already holds err.
func failed(err error) <-chan error {
	result := make(chan error, 1)
	result <- err
	return result
}
