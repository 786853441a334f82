package delivery

import "sync"

// inOrder runs queued reports one at a time, in order, on its own
// goroutine; push never blocks the engine.
type inOrder struct {
	mu   sync.Mutex
	q    []func()
	more chan struct{}
	shut bool
	done chan struct{}
}

func newInOrder() *inOrder {
	o := &inOrder{more: make(chan struct{}, 1), done: make(chan struct{})}
	go o.loop()
	return o
}

func (o *inOrder) push(f func()) {
	o.mu.Lock()
	o.q = append(o.q, f)
	o.mu.Unlock()
	o.wake()
}

func (o *inOrder) wake() {
	select {
	case o.more <- struct{}{}:
	default:
	}
}

// close returns once everything queued has run.
func (o *inOrder) close() {
	o.mu.Lock()
	o.shut = true
	o.mu.Unlock()
	o.wake()
	<-o.done
}

func (o *inOrder) loop() {
	defer close(o.done)
	for {
		o.mu.Lock()
		batch, shut := o.q, o.shut
		o.q = nil
		o.mu.Unlock()
		for _, f := range batch {
			f()
		}
		if len(batch) == 0 {
			if shut {
				return
			}
			<-o.more
		}
	}
}
