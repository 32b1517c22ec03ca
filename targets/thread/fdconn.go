package thread

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fdConn is a connected stream socket driven by blocking system calls on
// its raw descriptor, the way a C or Python thread-per-connection server
// does it. It implements targets.Conn.
//
// Deadlines are the socket's own, as in C: SO_RCVTIMEO and SO_SNDTIMEO make
// a blocked read(2) or write(2) return at the time left (write(2) with what
// it sent). The options are set again only when the time left has moved by
// more than timeoSlack from the one set: the connection core moves its
// wake-up only when it fires, so a busy connection reads and writes with one
// system call each, not a setsockopt or a poll(2) more. A deadline may
// therefore pass up to timeoSlack late.
//
// Read, Write and the deadline setters are called from the connection's
// own thread only; shutdown and Close may race with them and are
// serialised by mu, so that shutdown never reaches a descriptor number that
// Close has already released (and the kernel may have reused for another
// socket).
type fdConn struct {
	fd                 int
	rdeadline          time.Time
	wdeadline          time.Time
	rcvtimeo, sndtimeo time.Duration // the options as set; 0: none

	mu     sync.Mutex
	closed bool
}

// timeoSlack bounds how far the time left to a deadline may drift from the
// socket timeout set for it before the timeout is set again: a 16th of the
// time left, and at most 50 ms.
func timeoSlack(left time.Duration) time.Duration { return min(left/16, 50*time.Millisecond) }

// timeo sets the socket timeout opt (SO_RCVTIMEO or SO_SNDTIMEO, last set
// to *cur) for a call that must return by deadline (zero: never). It
// returns os.ErrDeadlineExceeded if the deadline has passed.
func (c *fdConn) timeo(opt int, cur *time.Duration, deadline time.Time) error {
	var left time.Duration
	if !deadline.IsZero() {
		if left = time.Until(deadline); left <= 0 {
			return os.ErrDeadlineExceeded
		}
		left = max(left, time.Microsecond) // a zero timeval is no timeout
	}
	if d := left - *cur; left == *cur || left > 0 && *cur > 0 && max(d, -d) <= timeoSlack(left) {
		return nil
	}
	tv := unix.NsecToTimeval(left.Nanoseconds())
	if left > 0 && tv.Sec == 0 && tv.Usec == 0 {
		tv.Usec = 1
	}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	*cur = left
	return nil
}

// pollOne waits until fd is ready for events or the deadline (zero: none)
// passes. It returns os.ErrDeadlineExceeded on timeout.
func (c *fdConn) pollOne(events int16, deadline time.Time) error {
	for {
		timeout := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			// Round up so that a sub-millisecond rest does not spin.
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: events}}
		n, err := unix.Poll(fds, timeout)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return os.NewSyscallError("poll", err)
		case n == 0:
			continue // the loop re-checks the deadline
		}
		// POLLHUP and POLLERR are ready too: the read or write that
		// follows reports what happened.
		return nil
	}
}

// Read reads into p, blocking until data, EOF, an error or the read
// deadline. A zero-length read of the socket is the peer's half-close and
// is returned as io.EOF.
func (c *fdConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := c.timeo(unix.SO_RCVTIMEO, &c.rcvtimeo, c.rdeadline); err != nil {
			return 0, err
		}
		n, err := unix.Read(c.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			// SO_RCVTIMEO ran out (a little early, or the deadline has
			// come), or the descriptor is non-blocking: wait for the
			// rest, then try again.
			if err := c.pollOne(unix.POLLIN, c.rdeadline); err != nil {
				return 0, err
			}
			continue
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p, completing partial writes: write(2) on a socket
// may take fewer bytes than offered, and the rest must be sent, not dropped.
// At the write deadline it returns what it wrote and os.ErrDeadlineExceeded.
//
// A write to a socket the peer has reset fails with EPIPE. The process is
// not killed by SIGPIPE: the Go runtime ignores SIGPIPE for descriptors
// other than standard output and error when the program has not asked to
// be notified of it.
func (c *fdConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if err := c.timeo(unix.SO_SNDTIMEO, &c.sndtimeo, c.wdeadline); err != nil {
			return done, err
		}
		n, err := unix.Write(c.fd, p[done:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if err := c.pollOne(unix.POLLOUT, c.wdeadline); err != nil {
				return done, err
			}
			continue
		case err != nil:
			return done, os.NewSyscallError("write", err)
		}
		done += n
	}
	return done, nil
}

// CloseWrite shuts down the write side: the peer reads EOF after what was
// sent.
func (c *fdConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return os.ErrClosed
	}
	return os.NewSyscallError("shutdown", unix.Shutdown(c.fd, unix.SHUT_WR))
}

// SetReadDeadline sets when a blocked Read gives up.
func (c *fdConn) SetReadDeadline(t time.Time) error {
	c.rdeadline = t
	return nil
}

// SetWriteDeadline sets when a blocked Write gives up.
func (c *fdConn) SetWriteDeadline(t time.Time) error {
	c.wdeadline = t
	return nil
}

// shutdown shuts down both directions, which wakes the connection's thread
// from a blocked read (it returns 0) or write (EPIPE). Close of the server
// uses it: closing a descriptor does not wake a thread blocked on it.
func (c *fdConn) shutdown() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return unix.Shutdown(c.fd, unix.SHUT_RDWR)
}

// Close releases the descriptor.
func (c *fdConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return os.NewSyscallError("close", unix.Close(c.fd))
}
