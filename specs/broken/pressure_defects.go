package broken

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// sendLock is the single thread of a server that sends with a blocking
// sendall() inside its select loop: every connection's sends take turns
// under one lock, held for as long as one send blocks.
type sendLock struct{ mu sync.Mutex }

type lockedSendConn struct {
	targets.Conn
	l *sendLock
}

func (c lockedSendConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// queueConn never blocks in Write: it appends what the session sends to a
// queue in memory, which a goroutine of its own sends on (asyncio's
// transport.write() without await drain()). The server goes on reading
// from a client that does not read, and the queue grows with what it sends.
type queueConn struct {
	targets.Conn
	mu     sync.Mutex
	cond   sync.Cond
	q      [][]byte
	err    error // why the sender stopped: a send failed, or the close
	sender sync.WaitGroup
}

func newQueueConn(c targets.Conn) *queueConn {
	q := &queueConn{Conn: c}
	q.cond.L = &q.mu
	q.sender.Add(1)
	go q.send()
	return q
}

func (c *queueConn) send() {
	defer c.sender.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.q) == 0 && c.err == nil {
			c.cond.Wait()
		}
		if c.err != nil {
			return
		}
		b := c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err, c.q = err, nil
		}
		c.cond.Broadcast()
	}
}

func (c *queueConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.q = append(c.q, bytes.Clone(p))
	c.cond.Broadcast()
	return len(p), nil
}

// CloseWrite sends what is queued, then FIN.
func (c *queueConn) CloseWrite() error {
	c.mu.Lock()
	for len(c.q) > 0 && c.err == nil {
		c.cond.Wait()
	}
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Conn.CloseWrite()
}

func (c *queueConn) kill() {
	c.mu.Lock()
	if c.err == nil {
		c.err, c.q = io.ErrClosedPipe, nil
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *queueConn) Close() error {
	c.kill()
	err := c.Conn.Close() // ends a send blocked on the socket
	c.sender.Wait()
	return err
}

// eofConn notes that its peer half-closed (a read returned EOF).
type eofConn struct {
	targets.Conn
	eof bool
}

func (c *eofConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// partialLine notes whether the input ends in an unfinished line, which a
// server that parses what is left at EOF trips on.
type partialLine struct {
	session
	c       *eofConn
	partial bool
}

func (s *partialLine) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if len(in) > 0 {
		s.partial = in[len(in)-1] != '\n'
	}
	return s.Session.Data(in, now, out)
}

// leftAtEOF reports whether a connection ended with its peer's EOF after
// an unfinished line.
func leftAtEOF(_ error, sess protocol.Session) bool {
	s := sess.(*partialLine)
	return s.c.eof && s.partial
}
