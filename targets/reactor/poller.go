package reactor

import (
	"errors"
	"time"
)

// Events is a set of readiness conditions: what a descriptor is watched for,
// or what it is ready for.
type Events uint8

// Readiness conditions. A hang-up or an error on a descriptor is reported as
// both Readable and Writable, as select(2) does: the next read or write then
// returns the condition (EOF, ECONNRESET) and the connection handles it.
const (
	Readable Events = 1 << iota
	Writable
)

// Event is one descriptor's readiness, as returned by Poller.Wait.
type Event struct {
	Fd     int
	Events Events
}

// ErrTooManyFds is returned by Poller.Add for a descriptor the poller cannot
// watch: select(2)'s fd_set has FD_SETSIZE (1024) bits, so a descriptor of
// 1024 or more cannot be put in it. The caller refuses such a connection.
var ErrTooManyFds = errors.New("descriptor too large for the poller")

// Poller is the one seam between the reactor and the kernel's readiness
// interface: the select, poll and epoll loops of the tutorials are the same
// loop over three implementations of it. A Poller is used by one goroutine,
// except Wake, which any goroutine may call.
type Poller interface {
	// Add starts watching fd for ev (ev may be 0: registered, not watched).
	Add(fd int, ev Events) error
	// Modify changes what fd is watched for.
	Modify(fd int, ev Events) error
	// Remove stops watching fd. Call it before closing fd.
	Remove(fd int) error
	// Wait blocks until a watched descriptor is ready, Wake is called, or
	// timeout passes (a negative timeout waits without limit), and appends
	// the ready descriptors to evs[:0]. A wait interrupted by a signal
	// (EINTR) returns no events and no error: the caller simply turns its
	// loop again, recomputing its timers.
	Wait(timeout time.Duration, evs []Event) ([]Event, error)
	// Wake makes a concurrent or the next Wait return. It is safe for
	// concurrent use.
	Wake() error
	// Close releases the poller's descriptors.
	Close() error
}

// NewPoller returns a poller by name: "select", "poll" or "epoll".
func NewPoller(name string) (Poller, error) {
	switch name {
	case "select":
		return NewSelect()
	case "poll":
		return NewPoll()
	case "epoll":
		return NewEpoll()
	}
	return nil, errors.New("reactor: unknown poller " + name)
}

// timeoutMillis converts a wait timeout to poll(2)/epoll_wait(2)
// milliseconds, rounding up so that a timer is never woken early and spun on.
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}
