package reactor

import (
	"container/heap"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Handler is what a Loop calls when a descriptor it watches is ready.
type Handler interface {
	Ready(ev Events)
}

// Loop is one single-threaded reactor: a poller, the handlers of the
// descriptors it watches, a timer heap and a queue of functions handed in by
// other goroutines. Everything but Post and Stop runs on the goroutine that
// calls Run, so handlers need no locks.
type Loop struct {
	p        Poller
	handlers []Handler // indexed by descriptor: no map lookup per event
	timers   timerHeap
	evs      []Event
	buf      []byte // the shared read buffer of every connection
	log      *slog.Logger
	quit     bool
	// busy, if set, reports work handed to other goroutines whose results
	// will be posted back (reactor-pool calls in flight).
	busy func() bool

	mu     sync.Mutex
	posted []func()
	spare  []func()
}

// NewLoop returns a loop over p that logs to log.
func NewLoop(p Poller, log *slog.Logger) *Loop {
	return &Loop{p: p, log: log, buf: make([]byte, 64<<10), evs: make([]Event, 0, 256)}
}

// Poller returns the loop's poller.
func (l *Loop) Poller() Poller { return l.p }

// Buffer returns the loop's shared read buffer. Its contents are valid only
// until the handler that read into it returns.
func (l *Loop) Buffer() []byte { return l.buf }

// Watch registers h for fd's events ev.
func (l *Loop) Watch(fd int, ev Events, h Handler) error {
	if err := l.p.Add(fd, ev); err != nil {
		return err
	}
	for fd >= len(l.handlers) {
		l.handlers = append(l.handlers, nil)
	}
	l.handlers[fd] = h
	return nil
}

// Rewatch changes what fd is watched for.
func (l *Loop) Rewatch(fd int, ev Events) error { return l.p.Modify(fd, ev) }

// Unwatch forgets fd. Call it before closing fd.
func (l *Loop) Unwatch(fd int) {
	l.p.Remove(fd)
	if fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
}

// Post hands f to the loop's goroutine and wakes it. It is safe for
// concurrent use. Functions posted after the loop stopped run in RunPosted.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	first := len(l.posted) == 0
	l.posted = append(l.posted, f)
	l.mu.Unlock()
	if first {
		// Only the first post of a batch needs to wake: the loop runs the
		// whole batch when it wakes.
		l.p.Wake()
	}
}

// Stop asks Run to return. It is safe for concurrent use.
func (l *Loop) Stop() { l.Post(func() { l.quit = true }) }

// RunPosted runs the functions posted so far. Run calls it every turn; a
// server calls it once more after Run has returned and every goroutine that
// posts has exited.
func (l *Loop) RunPosted() {
	for range 16 {
		l.mu.Lock()
		fs := l.posted
		if len(fs) == 0 {
			l.mu.Unlock()
			return
		}
		// Swap in the spare slice, so that posts made while this batch
		// runs go to the other array.
		l.posted = l.spare[:0]
		l.mu.Unlock()
		for i, f := range fs {
			f()
			fs[i] = nil
		}
		l.spare = fs
	}
}

// Run turns the loop until Stop: wait for readiness (bounded by the next
// timer), call the ready descriptors' handlers, the posted functions and the
// due timers. It returns only on Stop or on a failed wait (the poller itself
// broken, never one connection's error).
func (l *Loop) Run() error {
	for !l.quit {
		timeout := time.Duration(-1)
		if len(l.timers) > 0 {
			timeout = max(time.Until(l.timers[0].at), 0)
		}
		if l.busy != nil && l.busy() {
			// Let the workers run before blocking in the wait: with one
			// CPU, a goroutine that blocks in a raw syscall keeps its P
			// until sysmon retakes it (20 µs to 10 ms), and the workers
			// whose results this loop waits for would wait with it.
			runtime.Gosched()
		}
		evs, err := l.p.Wait(timeout, l.evs)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Fd < len(l.handlers) {
				if h := l.handlers[e.Fd]; h != nil {
					h.Ready(e.Events)
				}
			}
		}
		l.RunPosted()
		if len(l.timers) > 0 {
			now := time.Now()
			for n := 0; len(l.timers) > 0 && !l.timers[0].at.After(now) && n < 4096; n++ {
				t := heap.Pop(&l.timers).(*Timer)
				t.f()
			}
		}
	}
	return nil
}

// Timer is a function scheduled on a Loop.
type Timer struct {
	at    time.Time
	f     func()
	index int // in the heap, or -1
	l     *Loop
}

// At schedules f to run on the loop at t.
func (l *Loop) At(t time.Time, f func()) *Timer {
	tm := &Timer{at: t, f: f, l: l}
	heap.Push(&l.timers, tm)
	return tm
}

// Stop cancels the timer if it has not run. It must be called on the loop.
func (t *Timer) Stop() {
	if t != nil && t.index >= 0 {
		heap.Remove(&t.l.timers, t.index)
	}
}

// timerHeap is a min-heap of timers by time (container/heap).
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
