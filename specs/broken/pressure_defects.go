package broken

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"syscall"
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
//
// The queue lives outside Go's heap, in memory mapped for it: a test runs
// this server in its own process, whose heap may hold hundreds of MiB of
// freed pages that a queue on the heap would reuse unseen, while mapped
// pages show in the process's RSS as soon as they are written.
type queueConn struct {
	targets.Conn
	mu         sync.Mutex
	cond       sync.Cond
	arena      []byte // mapped on the first write; arena[head:tail] is unsent
	head, tail int
	err        error // why the sender stopped: a send failed, or the close
	sender     sync.WaitGroup
}

// queueArena is the most a queue holds; past it, Write waits for room.
const queueArena = 32 << 20

func newQueueConn(c targets.Conn) *queueConn {
	q := &queueConn{Conn: c}
	q.cond.L = &q.mu
	q.sender.Add(1)
	go q.send()
	return q
}

func (c *queueConn) send() {
	defer c.sender.Done()
	buf := make([]byte, 64<<10)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.head == c.tail && c.err == nil {
			c.cond.Wait()
		}
		if c.err != nil {
			return
		}
		n := copy(buf, c.arena[c.head:c.tail])
		c.mu.Unlock()
		_, err := c.Conn.Write(buf[:n])
		c.mu.Lock()
		switch {
		case c.err != nil:
		case err != nil:
			c.err = err
		default:
			c.head += n
		}
		c.cond.Broadcast()
	}
}

func (c *queueConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.arena == nil && c.err == nil {
		a, err := syscall.Mmap(-1, 0, queueArena, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err != nil {
			return 0, fmt.Errorf("map the reply queue: %w", err)
		}
		c.arena = a
	}
	for written := 0; written < len(p); {
		if c.err != nil {
			return written, c.err
		}
		if c.tail == len(c.arena) && c.head > 0 {
			c.tail = copy(c.arena, c.arena[c.head:c.tail])
			c.head = 0
		}
		if c.tail == len(c.arena) {
			c.cond.Wait()
			continue
		}
		k := copy(c.arena[c.tail:], p[written:])
		c.tail += k
		written += k
		c.cond.Broadcast()
	}
	return len(p), nil
}

// CloseWrite sends what is queued, then FIN.
func (c *queueConn) CloseWrite() error {
	c.mu.Lock()
	for c.head < c.tail && c.err == nil {
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
		c.err = io.ErrClosedPipe
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *queueConn) Close() error {
	c.kill()
	err := c.Conn.Close() // ends a send blocked on the socket
	c.sender.Wait()
	c.mu.Lock()
	if c.arena != nil {
		_ = syscall.Munmap(c.arena)
		c.arena = nil
	}
	c.mu.Unlock()
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
