package reactor

import (
	"bytes"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// drainLimit bounds the bytes discarded during a lingering close, as in
// targets.ServeStream.
const drainLimit = 4 << 20

// Executor runs session calls off the loop (the reactor-pool model). Submit
// must not wait for the loop: the loop calls it.
type Executor interface {
	Submit(task func())
	// Close waits for the submitted tasks and stops the workers.
	Close()
}

type connState uint8

const (
	stateOpen     connState = iota
	stateDraining           // FIN sent; discarding input until EOF
	stateClosed
)

// evKind is a session call.
type evKind uint8

const (
	evOpen  evKind = iota
	evData         // Data
	evEOF          // EOF
	evMore         // Wake because More was set and out drained
	evTimer        // Wake because WakeAt passed
)

// conn is one stream connection on a loop. It has the semantics of
// targets.ServeStream, turned inside out: the loop calls it when the socket
// is ready instead of it blocking.
type conn struct {
	srv      *loopServer
	fd       int
	sess     protocol.Session
	out      bytes.Buffer
	st       protocol.Step
	state    connState
	eof      bool // the peer half-closed (recv returned 0)
	interest Events
	timer    *Timer
	timerAt  time.Time
	drained  int

	// With an Executor: at most one session call in flight per connection,
	// the others queued in order, so a connection is never answered twice
	// or out of order.
	busy    bool
	queue   []pending
	queued  int // bytes in queue
	moreQ   bool
	release bool // the session's release is owed when the call in flight returns
}

type pending struct {
	kind evKind
	data []byte
}

func (c *conn) loop() *Loop { return c.srv.loop }

// invoke makes one session call, appending output to out.
func (c *conn) invoke(kind evKind, data []byte, out *bytes.Buffer) protocol.Step {
	now := time.Now()
	switch kind {
	case evOpen:
		return c.sess.Open(now, out)
	case evData:
		return c.sess.Data(data, now, out)
	case evEOF:
		return c.sess.EOF(now, out)
	}
	return c.sess.Wake(now, out)
}

// apply merges the step of a call of kind into the connection's step, as
// ServeStream does.
func (c *conn) apply(kind evKind, st protocol.Step) {
	switch kind {
	case evOpen:
		c.st = st
	case evData, evEOF:
		// A poem line still due stays due if the peer sent bytes meanwhile.
		if st.WakeAt.IsZero() {
			st.WakeAt = c.st.WakeAt
		}
		c.st = st
	case evMore:
		st.Close = st.Close || c.st.Close
		if st.WakeAt.IsZero() {
			st.WakeAt = c.st.WakeAt
		}
		c.st = st
	case evTimer:
		st.Close = st.Close || c.st.Close
		c.st = st
	}
}

// call makes a session call now, or queues it for the executor.
func (c *conn) call(kind evKind, data []byte) {
	x := c.srv.exec
	if x == nil {
		c.apply(kind, c.invoke(kind, data, &c.out))
		return
	}
	if data != nil {
		data = append([]byte(nil), data...) // the loop's buffer is reused
	}
	c.queue = append(c.queue, pending{kind: kind, data: data})
	c.queued += len(data)
	c.kick()
}

// task is one session call run by the executor.
type task struct {
	c    *conn
	kind evKind
	data []byte
	out  bytes.Buffer
	st   protocol.Step
}

// kick submits the next queued call if none is in flight.
func (c *conn) kick() {
	for !c.busy && len(c.queue) > 0 && c.state != stateClosed {
		p := c.queue[0]
		c.queue[0] = pending{}
		c.queue = c.queue[1:]
		c.queued -= len(p.data)
		if c.st.Close && (p.kind == evData || p.kind == evEOF) {
			continue // after Close a session gets no more input
		}
		c.busy = true
		c.srv.inflight++
		t := &task{c: c, kind: p.kind, data: p.data}
		l := c.loop()
		c.srv.exec.Submit(func() {
			t.st = c.invoke(t.kind, t.data, &t.out)
			l.Post(t.finish)
		})
	}
}

// finish applies a call made by the executor, on the loop.
func (t *task) finish() {
	c := t.c
	c.busy = false
	c.srv.inflight--
	if t.kind == evMore {
		c.moreQ = false
	}
	if c.state == stateClosed {
		if c.release {
			c.release = false
			releaseSession(c.sess)
		}
		return
	}
	c.out.Write(t.out.Bytes())
	c.apply(t.kind, t.st)
	c.kick()
	c.progress()
}

// open starts the session.
func (c *conn) open() {
	c.call(evOpen, nil)
	c.progress()
}

// Ready implements Handler.
func (c *conn) Ready(ev Events) {
	if ev&c.interest == 0 {
		// Only a hang-up or an error is reported for a descriptor not
		// watched for it: find out which, and drop the connection on an
		// error rather than spin on it.
		if v, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			c.close()
		}
		return
	}
	if ev&Writable != 0 && c.state == stateOpen {
		c.progress()
	}
	if ev&Readable != 0 && c.interest&Readable != 0 {
		switch c.state {
		case stateOpen:
			c.read()
		case stateDraining:
			c.drain()
		}
	}
}

func (c *conn) read() {
	buf := c.loop().buf
	n, err := unix.Read(c.fd, buf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		c.drop(err)
		return
	case n > 0:
		c.call(evData, buf[:n])
	default:
		c.eof = true
		c.call(evEOF, nil)
	}
	c.progress()
}

// drain discards what the peer sends after our FIN, until its EOF.
func (c *conn) drain() {
	buf := c.loop().buf
	for range 16 {
		n, err := unix.Read(c.fd, buf)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		case err != nil || n == 0:
			c.close()
			return
		}
		if c.drained += n; c.drained >= drainLimit {
			c.close()
			return
		}
	}
}

// flush writes out until it is empty or the socket is full. It returns false
// if the connection was dropped.
func (c *conn) flush() bool {
	for c.out.Len() > 0 {
		// A write to a reset peer raises SIGPIPE, which the Go runtime
		// ignores for descriptors other than 1 and 2: the write fails
		// with EPIPE and only this connection is dropped (see the reset
		// test). Plain write(2) keeps the hot path free of allocation.
		n, err := unix.Write(c.fd, c.out.Bytes())
		switch err {
		case nil:
			c.out.Next(n)
		case unix.EAGAIN:
			return true
		case unix.EINTR:
		default:
			c.drop(err)
			return false
		}
	}
	return true
}

// progress flushes output, asks a session with More for more as the buffer
// drains, and settles what comes next.
func (c *conn) progress() {
	for range 64 {
		if c.state == stateClosed || !c.flush() {
			return
		}
		if !c.st.More || c.out.Len() >= protocol.LowWater || c.state != stateOpen {
			break
		}
		if c.srv.exec != nil {
			if !c.moreQ {
				c.moreQ = true
				c.call(evMore, nil)
			}
			break
		}
		c.call(evMore, nil)
	}
	c.settle()
}

// settle decides, after any change, whether to close in order, when to be
// woken, and what to watch: write interest only while output is pending,
// read interest off while output is at HighWater, after EOF and after Close.
func (c *conn) settle() {
	if c.state == stateClosed {
		return
	}
	idle := !c.busy && len(c.queue) == 0 && c.out.Len() == 0 && !c.st.More
	if c.state == stateOpen && idle && (c.st.Close || c.eof && c.st.WakeAt.IsZero()) {
		c.closeInOrder()
		return
	}
	if c.state == stateOpen {
		want := c.st.WakeAt
		if c.st.Close {
			want = time.Time{}
		}
		if !want.Equal(c.timerAt) {
			c.timer.Stop()
			c.timer = nil
			if !want.IsZero() {
				c.timer = c.loop().At(want, c.onTimer)
			}
			c.timerAt = want
		}
	}
	var ev Events
	switch c.state {
	case stateOpen:
		if !c.eof && !c.st.Close && c.out.Len()+c.queued < protocol.HighWater {
			ev |= Readable
		}
		if c.out.Len() > 0 || c.st.More && c.srv.exec == nil {
			ev |= Writable
		}
	case stateDraining:
		ev = Readable
	}
	if ev != c.interest {
		if err := c.loop().Rewatch(c.fd, ev); err != nil {
			c.drop(err)
			return
		}
		c.interest = ev
	}
}

func (c *conn) onTimer() {
	c.timer, c.timerAt = nil, time.Time{}
	switch c.state {
	case stateOpen:
		c.st.WakeAt = time.Time{}
		c.call(evTimer, nil)
		c.progress()
	case stateDraining:
		c.close() // DrainTimeout passed
	}
}

// closeInOrder sends FIN and drains what the peer still sends (bounded by
// targets.DrainTimeout and drainLimit) before closing: closing with unread
// input would send RST and can destroy the reply.
func (c *conn) closeInOrder() {
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil || c.eof {
		c.close()
		return
	}
	c.state = stateDraining
	c.timer.Stop()
	c.timer = c.loop().At(time.Now().Add(targets.DrainTimeout), c.onTimer)
	c.settle()
}

// drop ends a connection on an I/O error (a reset, a broken pipe): it ends
// this connection only.
func (c *conn) drop(err error) {
	c.srv.log.Debug("connection dropped", "fd", c.fd, "err", err)
	c.close()
}

func (c *conn) close() {
	if c.state == stateClosed {
		return
	}
	c.state = stateClosed
	c.timer.Stop()
	c.timer = nil
	c.loop().Unwatch(c.fd)
	unix.Close(c.fd)
	delete(c.srv.conns, c)
	c.queue = nil
	if c.busy {
		c.release = true
	} else {
		releaseSession(c.sess)
	}
}

// releaseSession calls a session's optional release method, which frees what
// it holds (an open file) whatever ended the connection.
func releaseSession(s protocol.Session) {
	if r, ok := s.(interface{ Release() }); ok {
		r.Release()
	}
}
