// Package wire is the client-side plumbing of the conformance suite: a
// connection that reads a reply with a protocol.Matcher under a deadline,
// tells an orderly close (EOF) from a reset, and resets on purpose
// (SO_LINGER 0). It knows nothing of framing: what a request is and when a
// reply is complete are the protocol package's business (its clients,
// Framing and matchers), so a Conn only moves bytes.
//
// Every read is bounded, in time by the step's deadline and in memory by a
// limit on what is kept: a server that sends without end fails the step
// with a TooMuchError ("the server sent more than N bytes …"), never drives
// the suite out of memory.
package wire

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/socklab/socklab/protocol"
)

// Ending is how a connection's read side ended.
type Ending int

// Endings, from the best to the worst.
const (
	// EOF is an orderly close: the server sent FIN.
	EOF Ending = iota
	// Reset is ECONNRESET: the server closed with unread input or
	// SO_LINGER 0, which can destroy the reply it sent.
	Reset
	// StillOpen is the deadline passing with the connection open.
	StillOpen
	// Broken is any other read error.
	Broken
)

func (e Ending) String() string {
	switch e {
	case EOF:
		return "an orderly close (EOF)"
	case Reset:
		return "a reset (ECONNRESET)"
	case StillOpen:
		return "the connection still open"
	}
	return "a read error"
}

// Classify names the Ending of a read error (nil counts as still open).
func Classify(err error) Ending {
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return StillOpen
	case errors.Is(err, io.EOF):
		return EOF
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	}
	return Broken
}

// Bounds of what the suite keeps of a server's bytes. A correct server of
// any of socklab's protocols stays far below them.
const (
	// MaxPending bounds the bytes a Conn holds that no matcher has
	// consumed yet: a reply a matcher cannot finish (a line without its
	// newline) plus the replies that came after it.
	MaxPending = 4 << 20
	// MaxCollect bounds what the suite collects whole: the bytes up to the
	// server's close (ReadUntilClosed), an HTTP response with its body.
	MaxCollect = 1 << 20
)

// ErrTooMuch is wrapped by every TooMuchError.
var ErrTooMuch = errors.New("more bytes than the suite reads")

// TooMuchError is a read past one of the suite's bounds: the server sent
// more than Limit bytes While something was awaited.
type TooMuchError struct {
	Limit int64
	While string
}

func (e *TooMuchError) Error() string {
	return fmt.Sprintf("the server sent more than %d bytes %s", e.Limit, e.While)
}

// Unwrap makes errors.Is(err, ErrTooMuch) hold.
func (e *TooMuchError) Unwrap() error { return ErrTooMuch }

// Conn is one client connection of a spec.
type Conn struct {
	c net.Conn
	// Timeout is the per-step wait: a reply, a close.
	Timeout time.Duration
	// ReadSize is how much one read takes at most, 64 KiB if 0: a
	// behaviour that holds a thousand connections keeps it small. Set it
	// before the first read.
	ReadSize int

	in    []byte // received, not yet consumed by a matcher
	store []byte
	tmp   []byte
	eof   bool
	rerr  error // the read error that ended the read side, other than EOF
}

// Dial connects to addr over network.
func Dial(network, addr string, timeout time.Duration) (*Conn, error) {
	return DialWith(&net.Dialer{Timeout: timeout}, network, addr, timeout)
}

// DialSmallBuffer connects with SO_RCVBUF set to rcvbuf before the
// connection is made (so the TCP window is small from the start): the
// client of the partial-send behaviour.
func DialSmallBuffer(network, addr string, rcvbuf int, timeout time.Duration) (*Conn, error) {
	d := &net.Dialer{Timeout: timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return DialWith(d, network, addr, timeout)
}

// DialWith connects with d.
func DialWith(d *net.Dialer, network, addr string, timeout time.Duration) (*Conn, error) {
	c, err := d.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, Timeout: timeout}, nil
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.c }

// Write writes p whole, within the timeout.
func (c *Conn) Write(p []byte) error {
	if err := c.c.SetWriteDeadline(time.Now().Add(c.Timeout)); err != nil {
		return err
	}
	_, err := c.c.Write(p)
	if err != nil {
		return fmt.Errorf("write %d bytes to %s: %w", len(p), c.c.RemoteAddr(), err)
	}
	return nil
}

// WriteAsync writes p whole in another goroutine, with no deadline beyond
// the connection's close, and reports the outcome on the returned channel:
// replies that the server produces while the client is still writing (an
// echo of megabytes) need a reader at the same time.
func (c *Conn) WriteAsync(p []byte) <-chan error {
	ch := make(chan error, 1)
	if err := c.c.SetWriteDeadline(time.Time{}); err != nil {
		ch <- err
		return ch
	}
	go func() {
		_, err := c.c.Write(p)
		ch <- err
	}()
	return ch
}

// Expect reads until m has a complete reply, within the timeout. It sends
// what a protocol.Replier matcher asks for (the file protocol's lock-step
// "ok") after every Match that did not fail, the completing one included,
// as the Replier contract says (a get of an empty file is complete at
// yes:0, yet the server still waits for its ok). Bytes after the reply stay
// buffered for the next Expect.
func (c *Conn) Expect(m protocol.Matcher) error {
	return c.ExpectWithin(m, c.Timeout)
}

// ExpectWithin is Expect with its own wait.
func (c *Conn) ExpectWithin(m protocol.Matcher, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	got := 0
	for {
		n, done, err := m.Match(c.in, c.eof)
		c.consume(n)
		got += n
		if err != nil {
			return err
		}
		if r, ok := m.(protocol.Replier); ok {
			if out := r.Reply(nil); len(out) > 0 {
				if err := c.Write(out); err != nil {
					return err
				}
			}
		}
		if done {
			return nil
		}
		if len(c.in) >= MaxPending {
			return &TooMuchError{Limit: MaxPending, While: fmt.Sprintf("without completing the reply (%d bytes of it matched)", got)}
		}
		if c.eof || c.rerr != nil {
			if c.rerr != nil {
				return fmt.Errorf("%w: %d bytes of the reply, then %s: %w", protocol.ErrShortReply, got, Classify(c.rerr), c.rerr)
			}
			return fmt.Errorf("%w: %d bytes of the reply, then the server closed", protocol.ErrShortReply, got)
		}
		if err := c.fill(deadline); err != nil {
			if Classify(err) == StillOpen {
				return fmt.Errorf("%w: %d bytes of the reply within %v, then nothing more", protocol.ErrShortReply, got, wait)
			}
			c.rerr = err
		}
	}
}

// consume drops n bytes from the front of the input.
func (c *Conn) consume(n int) {
	c.in = c.in[n:]
	if len(c.in) == 0 {
		c.in = c.store[:0]
	}
}

// fill reads once, before deadline, and appends to the input. It records
// EOF itself and returns other errors.
func (c *Conn) fill(deadline time.Time) error {
	if err := c.c.SetReadDeadline(deadline); err != nil {
		return err
	}
	if c.tmp == nil {
		c.tmp = make([]byte, cmp.Or(c.ReadSize, 64<<10))
	}
	n, err := c.c.Read(c.tmp)
	if n > 0 {
		if len(c.in) == 0 && cap(c.store) >= n {
			c.in = append(c.store[:0], c.tmp[:n]...)
		} else {
			c.in = append(c.in, c.tmp[:n]...)
		}
		if cap(c.in) > cap(c.store) && cap(c.in) <= 1<<20 {
			c.store = c.in[:0]
		}
	}
	if errors.Is(err, io.EOF) {
		c.eof = true
		return nil
	}
	return err
}

// Pending returns the bytes received and not consumed by a matcher.
func (c *Conn) Pending() []byte { return c.in }

// Discard drops the received bytes not consumed by a matcher.
func (c *Conn) Discard() { c.consume(len(c.in)) }

// ReadUntilClosed reads and collects whatever arrives until the server
// closes or wait passes, and says how the read side ended. Past MaxCollect
// bytes it stops with the first MaxCollect, StillOpen and a TooMuchError.
func (c *Conn) ReadUntilClosed(wait time.Duration) (Ending, []byte, error) {
	deadline := time.Now().Add(wait)
	var extra []byte
	for {
		if len(extra)+len(c.in) > MaxCollect {
			k := MaxCollect - len(extra)
			extra = append(extra, c.in[:k]...)
			c.consume(k)
			return StillOpen, extra, &TooMuchError{Limit: MaxCollect, While: "before closing the connection"}
		}
		extra = append(extra, c.in...)
		c.consume(len(c.in))
		switch {
		case c.eof:
			return EOF, extra, nil
		case c.rerr != nil:
			return Classify(c.rerr), extra, c.rerr
		}
		if err := c.fill(deadline); err != nil {
			c.rerr = err
			if Classify(err) == StillOpen {
				// Not a failure of the connection: a later read may
				// wait again.
				c.rerr = nil
				if len(extra)+len(c.in) <= MaxCollect {
					extra = append(extra, c.in...)
					c.consume(len(c.in))
					return StillOpen, extra, err
				}
			}
		}
	}
}

// CappedReader reads from R and fails with a TooMuchError once more than
// Limit bytes were read: the reader under an HTTP parser, whose lines,
// headers and bodies have no bound of their own.
type CappedReader struct {
	R     io.Reader
	Limit int64
	While string
	n     int64
}

// Read implements io.Reader.
func (r *CappedReader) Read(p []byte) (int, error) {
	if r.n > r.Limit {
		return 0, r.Err()
	}
	if left := r.Limit + 1 - r.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.R.Read(p)
	r.n += int64(n)
	if r.n > r.Limit {
		return n - int(r.n-r.Limit), r.Err()
	}
	return n, err
}

// Err returns the TooMuchError once the limit is passed, else nil.
func (r *CappedReader) Err() error {
	if r.n > r.Limit {
		return &TooMuchError{Limit: r.Limit, While: r.While}
	}
	return nil
}

// Quiet reports whether nothing arrives for wait (bytes already buffered
// count as something arriving).
func (c *Conn) Quiet(wait time.Duration) bool {
	if len(c.in) > 0 || c.eof {
		return false
	}
	err := c.fill(time.Now().Add(wait))
	if err != nil && Classify(err) != StillOpen {
		c.rerr = err
		return false
	}
	return len(c.in) == 0 && !c.eof
}

// CloseWrite half-closes: shutdown(SHUT_WR), the peer reads EOF.
func (c *Conn) CloseWrite() error {
	cw, ok := c.c.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("half-close %s: %T cannot", c.c.RemoteAddr(), c.c)
	}
	return cw.CloseWrite()
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Reset closes the connection so that the server sees ECONNRESET: TCP with
// SO_LINGER 0 (RST), a Unix socket with its unread input (the kernel
// reports ECONNRESET to the peer).
func (c *Conn) Reset() error {
	if tc, ok := c.c.(*net.TCPConn); ok {
		if err := tc.SetLinger(0); err != nil {
			return err
		}
	}
	return c.c.Close()
}

// WriteWithin writes p whole within wait.
func (c *Conn) WriteWithin(p []byte, wait time.Duration) error {
	if err := c.c.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, err := c.c.Write(p); err != nil {
		return fmt.Errorf("write %d bytes to %s: %w", len(p), c.c.RemoteAddr(), err)
	}
	return nil
}

// Settle waits until the bytes written so far have left the connection's
// send queue (over TCP the server acknowledged them, over a Unix socket it
// read them), at most wait, and then pause more: time for the server to read
// them. A client of a dialect without terminators calls it after a message
// that gets no answer (the bytes of a put, the ok of an empty get): the next
// message must not reach the server in the same read, or the server, which
// takes one read as one message, sees the two as one.
func (c *Conn) Settle(wait, pause time.Duration) error {
	if sc, ok := c.c.(syscall.Conn); ok {
		deadline := time.Now().Add(wait)
		for {
			n, err := unsent(sc)
			if err != nil {
				return fmt.Errorf("settle %s: %w", c.c.RemoteAddr(), err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("settle %s: %d bytes still unsent after %v", c.c.RemoteAddr(), n, wait)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(pause)
	return nil
}
