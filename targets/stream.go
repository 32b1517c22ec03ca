package targets

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// Conn is what the blocking driver needs of a stream connection: *net.TCPConn
// and *net.UnixConn have it, and so does the thread model's raw descriptor.
type Conn interface {
	io.ReadWriteCloser
	// CloseWrite shuts down the write side (shutdown(SHUT_WR)): the peer
	// reads EOF after the bytes already sent.
	CloseWrite() error
	// SetReadDeadline makes a blocked Read return os.ErrDeadlineExceeded
	// at t (zero: no deadline).
	SetReadDeadline(t time.Time) error
	// SetWriteDeadline makes a blocked Write return what it wrote and
	// os.ErrDeadlineExceeded at t (zero: no deadline).
	SetWriteDeadline(t time.Time) error
}

// ReadBufferSize is the blocking driver's read size.
const ReadBufferSize = 64 << 10

// ServeStream drives session s over c with blocking calls and no timeouts;
// it is ServeStreamWith with the zero conn.Options.
func ServeStream(c Conn, s protocol.Session) error {
	return ServeStreamWith(c, s, conn.Options{})
}

// ServeStreamWith drives session s over c with blocking calls until the
// session or the peer ends the connection, then closes c in order. Every
// blocking model (iterative, thread, goroutine, pool, fork) serves a
// connection with it, so they differ only in who calls it. What to do when
// is the connection core's (package protocol/conn, under o: its timeouts);
// ServeStreamWith only performs its actions: a blocking Write is always
// writable and completes partial writes itself, and the core's wake-up is
// the deadline of the blocked Read or Write, so that a client that sends
// nothing or reads nothing cannot hold the model's thread past the core's
// timeouts.
//
// The session is released, if it has a Release method, when the connection
// ends, whatever the reason. ServeStreamWith returns nil after an orderly
// close, or the error that ended the connection (a reset, a broken pipe, a
// timeout of the core). Such errors end one connection, never the server:
// callers log them and carry on.
func ServeStreamWith(c Conn, s protocol.Session, o conn.Options) error {
	defer c.Close()
	o.Deferred = false
	k := conn.New(s, o)
	// However the loop is left, the session is released (a no-op after
	// the Close action, which released it already).
	defer k.Abort()
	buf := make([]byte, ReadBufferSize)
	// The deadlines last set, so that an unchanged wake-up (the core moves
	// its own only when it fires) costs no call.
	var rd, wd time.Time
	a := k.Open(time.Now())
	for {
		switch {
		case a.Close:
			return k.Err()
		case len(a.Out) > 0:
			if !a.WakeAt.Equal(wd) {
				if err := c.SetWriteDeadline(a.WakeAt); err != nil {
					a = k.Fail(err)
					continue
				}
				wd = a.WakeAt
			}
			n, err := c.Write(a.Out)
			now := time.Now()
			if n > 0 {
				a = k.Wrote(n, now)
			}
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				a = k.Timer(now)
			case err != nil:
				a = k.Fail(err)
			}
		case a.FIN:
			if err := c.CloseWrite(); err != nil {
				a = k.Fail(err)
				continue
			}
			a = k.FINSent(time.Now())
		case a.WantWrite:
			// More output is owed, and a blocking socket always takes it.
			a = k.Writable(time.Now())
		case !a.WantRead:
			// The peer half-closed: only a wake-up can produce more.
			time.Sleep(time.Until(a.WakeAt))
			a = k.Timer(time.Now())
		default:
			// Block in Read until input arrives or the wake-up is due.
			if !a.WakeAt.Equal(rd) {
				if err := c.SetReadDeadline(a.WakeAt); err != nil {
					a = k.Fail(err)
					continue
				}
				rd = a.WakeAt
			}
			n, err := c.Read(buf)
			now := time.Now()
			switch {
			case n > 0:
				a = k.Received(buf[:n], now)
			case errors.Is(err, os.ErrDeadlineExceeded):
				a = k.Timer(now)
			case err == io.EOF:
				a = k.EOF(now)
			case err != nil:
				a = k.Fail(err)
			}
		}
	}
}
