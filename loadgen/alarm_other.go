//go:build !linux

package loadgen

import (
	"sync"
	"time"
)

// alarm wakes a goroutine-engine worker at an open-loop due time. Here it
// is the runtime's timer, whose precision is the runtime's (on Linux a
// timerfd does better: see alarm_linux.go).
type alarm struct {
	timer *time.Timer
	done  chan struct{}
	once  sync.Once
}

func newAlarm() (*alarm, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &alarm{timer: t, done: make(chan struct{})}, nil
}

// sleep waits d; it returns false if interrupted first.
func (a *alarm) sleep(d time.Duration) bool {
	a.timer.Reset(d)
	select {
	case <-a.timer.C:
		return true
	case <-a.done:
		a.timer.Stop()
		return false
	}
}

// wakeAt does nothing here: a read deadline wakes with the runtime's timer.
func (a *alarm) wakeAt(time.Time) {}

// interrupt ends a sleep in progress, and every later one, at once.
func (a *alarm) interrupt() { a.once.Do(func() { close(a.done) }) }

func (a *alarm) close() { a.timer.Stop() }
