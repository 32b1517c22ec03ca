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
// Read, Write and SetReadDeadline are called from the connection's own
// thread only; shutdown and Close may race with them and are serialised by
// mu, so that shutdown never reaches a descriptor number that Close has
// already released (and the kernel may have reused for another socket).
type fdConn struct {
	fd       int
	deadline time.Time

	mu     sync.Mutex
	closed bool
}

// pollOne waits until fd is ready for events or the deadline passes. It
// returns os.ErrDeadlineExceeded on timeout.
func (c *fdConn) pollOne(events int16) error {
	for {
		timeout := -1
		if !c.deadline.IsZero() {
			d := time.Until(c.deadline)
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
		if !c.deadline.IsZero() {
			if err := c.pollOne(unix.POLLIN); err != nil {
				return 0, err
			}
		}
		n, err := unix.Read(c.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			// Not expected on a blocking descriptor, but harmless: wait
			// for readability and try again.
			if err := c.pollOne(unix.POLLIN); err != nil {
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
//
// A write to a socket the peer has reset fails with EPIPE. The process is
// not killed by SIGPIPE: the Go runtime ignores SIGPIPE for descriptors
// other than standard output and error when the program has not asked to
// be notified of it.
func (c *fdConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(c.fd, p[done:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			saved := c.deadline
			c.deadline = time.Time{}
			err := c.pollOne(unix.POLLOUT)
			c.deadline = saved
			if err != nil {
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

// SetReadDeadline sets when a blocked Read gives up; poll(2) enforces it.
func (c *fdConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
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
