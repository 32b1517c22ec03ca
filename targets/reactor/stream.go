package reactor

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol/conn"
)

// Executor runs session calls off the loop (the reactor-pool model). Submit
// must not wait for the loop: the loop calls it.
type Executor interface {
	Submit(task func())
	// Close waits for the submitted tasks and stops the workers.
	Close()
}

// stream is one stream connection on a loop. What happens when is its
// connection core's (package protocol/conn); the stream only performs the
// core's actions with non-blocking system calls, the loop's readiness
// events and its timers.
type stream struct {
	srv      *loopServer
	fd       int
	core     *conn.Conn
	interest Events
	timer    *Timer
	timerAt  time.Time
	closed   bool

	// With an Executor: the task that runs the core's Call on a worker
	// and the function it posts back to the loop. A core has one Call in
	// flight at most, so both are made once per connection.
	run, done func()
}

func (c *stream) loop() *Loop { return c.srv.loop }

// open starts the session.
func (c *stream) open() {
	now := time.Now()
	c.do(c.core.Open(now), now)
}

// Ready implements Handler.
func (c *stream) Ready(ev Events) {
	if ev&c.interest == 0 {
		// Only a hang-up or an error is reported for a descriptor not
		// watched for it: find out which, and drop the connection on an
		// error rather than spin on it.
		v, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && v != 0 {
			err = syscall.Errno(v)
		}
		if err != nil {
			c.do(c.core.Fail(err), time.Time{})
		}
		return
	}
	if ev&Writable != 0 {
		now := time.Now()
		c.do(c.core.Writable(now), now)
	}
	if ev&Readable != 0 && c.interest&Readable != 0 {
		c.read()
	}
}

// read makes one read: the level-triggered poller reports what is left.
func (c *stream) read() {
	buf := c.loop().buf
	n, err := unix.Read(c.fd, buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	now := time.Now()
	switch {
	case err != nil:
		c.do(c.core.Fail(err), now)
	case n > 0:
		c.do(c.core.Received(buf[:n], now), now)
	default:
		c.do(c.core.EOF(now), now)
	}
}

// do performs a core's action: hand its call to the executor, write its
// output until done or the socket is full, send its FIN, or close; then
// arm its timer and watch what it wants.
func (c *stream) do(a conn.Action, now time.Time) {
	if c.closed {
		return
	}
	for {
		if a.Call != nil {
			c.submit(a.Call)
			a.Call = nil
		}
		if len(a.Out) > 0 {
			// A write to a reset peer raises SIGPIPE, which the Go
			// runtime ignores for descriptors other than 1 and 2: the
			// write fails with EPIPE and only this connection is
			// dropped (see the reset test). Plain write(2) keeps the hot
			// path free of allocation.
			n, err := unix.Write(c.fd, a.Out)
			switch err {
			case nil:
				a = c.core.Wrote(n, now)
				continue
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				// Full: keep the action, wait for writability.
			default:
				a = c.core.Fail(err)
				continue
			}
		} else if a.FIN {
			if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
				a = c.core.Fail(err)
			} else {
				a = c.core.FINSent(now)
			}
			continue
		}
		break
	}
	if a.Close {
		c.close()
		return
	}
	if !a.WakeAt.Equal(c.timerAt) {
		c.timer.Stop()
		c.timer = nil
		if !a.WakeAt.IsZero() {
			c.timer = c.loop().At(a.WakeAt, c.onTimer)
		}
		c.timerAt = a.WakeAt
	}
	var ev Events
	if a.WantRead {
		ev |= Readable
	}
	if a.WantWrite {
		ev |= Writable
	}
	if ev != c.interest {
		if err := c.loop().Rewatch(c.fd, ev); err != nil {
			c.do(c.core.Fail(err), now)
			return
		}
		c.interest = ev
	}
}

func (c *stream) onTimer() {
	c.timer, c.timerAt = nil, time.Time{}
	now := time.Now()
	c.do(c.core.Timer(now), now)
}

// submit hands the core's call to the executor; its Done comes back to the
// loop through Post, even after the connection closed, so that the core
// can release the session the call was using.
func (c *stream) submit(call *conn.Call) {
	if c.run == nil {
		l := c.loop()
		c.done = func() {
			c.srv.inflight--
			c.do(c.core.Done(), time.Now())
		}
		c.run = func() {
			call.Run(time.Now())
			l.Post(c.done)
		}
	}
	c.srv.inflight++
	c.srv.exec.Submit(c.run)
}

// close closes the descriptor once the core has said Close.
func (c *stream) close() {
	c.closed = true
	c.timer.Stop()
	c.timer, c.interest = nil, 0
	c.loop().Unwatch(c.fd)
	unix.Close(c.fd)
	delete(c.srv.conns, c)
	if err := c.core.Err(); err != nil {
		c.srv.log.Debug("connection dropped", "fd", c.fd, "err", err)
	}
}
