//go:build linux

package loadgen

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// alarm wakes a goroutine-engine worker at an open-loop due time to the
// microsecond. The Go runtime's own timers do not: an idle runtime sleeps
// in epoll_wait, whose timeout is whole milliseconds, so a timer or a read
// deadline fires up to a millisecond late, and an open loop, which measures
// latency from the due time, would charge that lateness to the server. (At
// 200 req/s on an idle machine it tripled the corrected median.)
//
// The alarm is a timerfd opened through the runtime's poller, so its
// expiry wakes the poller at the nanosecond it was set for, as the epoll
// engine's timerfd wakes its loop. A worker sleeps by reading it; a worker
// that waits in a read with a deadline arms it for the deadline, and the
// runtime, woken by the expiry, finds the deadline's timer due and ends the
// read on time.
type alarm struct {
	f   *os.File // the timerfd, registered with the runtime's poller
	fd  int      // its descriptor, for timerfd_settime (f.Fd would make it blocking)
	buf [8]byte  // a timerfd read returns the expiry count, 8 bytes
}

func newAlarm() (*alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	return &alarm{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}, nil
}

// set arms the timerfd to expire d from now, or at once if d ≤ 0. Arming
// resets its expiry count, so a sleep never sees an earlier expiry.
func (a *alarm) set(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if err := unix.TimerfdSettime(a.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("timerfd_settime: %w", err)
	}
	return nil
}

// sleep waits d; it returns false if interrupted first.
func (a *alarm) sleep(d time.Duration) bool {
	if err := a.set(d); err != nil {
		// Cannot happen with a valid relative time; sleep on a runtime
		// timer rather than not at all.
		time.Sleep(d)
		return true
	}
	_, err := a.f.Read(a.buf[:])
	return err == nil
}

// wakeAt makes the runtime wake at t, for a read deadline at t.
func (a *alarm) wakeAt(t time.Time) { a.set(time.Until(t)) }

// interrupt ends a sleep in progress, and every later one, at once; it is
// called from another goroutine when the run is cancelled.
func (a *alarm) interrupt() { a.f.SetReadDeadline(time.Unix(1, 0)) }

func (a *alarm) close() { a.f.Close() }
