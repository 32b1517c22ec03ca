package targets

import (
	"bytes"
	"errors"
	"io"
	"os"
	"time"

	"github.com/socklab/socklab/protocol"
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
}

// DrainTimeout bounds the lingering close: after its FIN, a server reads and
// discards what the peer still sends for at most this long, so that unread
// input does not turn the close into a reset that destroys the reply. It is
// the same idea as net/http's closeWriteAndWait.
const DrainTimeout = time.Second

// drainLimit bounds the bytes discarded during a lingering close.
const drainLimit = 4 << 20

// ReadBufferSize is the blocking driver's read size.
const ReadBufferSize = 64 << 10

// ServeStream drives session s over c with blocking calls until the session
// or the peer ends the connection, then closes c in order. Every blocking
// model (iterative, thread, goroutine, pool, fork) serves a connection with
// it, so they differ only in who calls it.
//
// It calls the session's Release, if it has one, when the connection ends.
// It returns nil after an orderly close, or the I/O error that ended the
// connection (a reset, a broken pipe). Such errors end one connection, never
// the server: callers log them and carry on.
func ServeStream(c Conn, s protocol.Session) error {
	defer c.Close()
	// A session that holds resources (the file protocol's open file, an
	// unfinished upload) is released however the connection ends: an
	// orderly close, a reset, or the server's Close.
	if r, ok := s.(protocol.Releaser); ok {
		defer r.Release()
	}
	var out bytes.Buffer
	buf := make([]byte, ReadBufferSize)
	st := s.Open(time.Now(), &out)
	eof := false
	for {
		// Flush what is owed, asking for lazily produced output as the
		// buffer drains. Write completes partial writes itself.
		for {
			if out.Len() > 0 {
				if _, err := c.Write(out.Bytes()); err != nil {
					return err
				}
				out.Reset()
			}
			if !st.More {
				break
			}
			st = mergeMore(st, s.Wake(time.Now(), &out))
		}
		if st.Close {
			return closeInOrder(c, buf)
		}
		if eof {
			// The read side is closed: only a wake-up can produce more.
			if st.WakeAt.IsZero() {
				return closeInOrder(c, buf)
			}
			time.Sleep(time.Until(st.WakeAt))
			st = s.Wake(time.Now(), &out)
			continue
		}
		// Block in Read until input arrives or the session's wake-up is due.
		if err := c.SetReadDeadline(st.WakeAt); err != nil {
			return err
		}
		n, err := c.Read(buf)
		now := time.Now()
		switch {
		case n > 0:
			st = keepWake(st, s.Data(buf[:n], now, &out))
		case errors.Is(err, os.ErrDeadlineExceeded):
			st = s.Wake(now, &out)
		case err == io.EOF:
			eof = true
			st = keepWake(st, s.EOF(now, &out))
		case err != nil:
			return err
		}
	}
}

// keepWake carries a pending wake-up across a Data call that did not set one:
// a poem line is still due even if the peer sent bytes meanwhile.
func keepWake(prev, next protocol.Step) protocol.Step {
	if next.WakeAt.IsZero() {
		next.WakeAt = prev.WakeAt
	}
	return next
}

// mergeMore applies the Step of a Wake made for More output.
func mergeMore(prev, next protocol.Step) protocol.Step {
	next.Close = next.Close || prev.Close
	return keepWake(prev, next)
}

// closeInOrder sends FIN, drains what the peer still sends (bounded in time
// and bytes) and closes. Closing with unread input would send RST, and the
// peer's kernel may then drop the reply it has not yet read.
func closeInOrder(c Conn, buf []byte) error {
	if err := c.CloseWrite(); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(DrainTimeout)); err != nil {
		return err
	}
	for drained := 0; drained < drainLimit; {
		n, err := c.Read(buf)
		drained += n
		if err != nil {
			break
		}
	}
	return nil
}
