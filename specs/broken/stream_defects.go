package broken

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// start adapts a streamSpec to Server.Start.
func start(sp streamSpec) func(string) (targets.Server, error) {
	return func(root string) (targets.Server, error) {
		sp := sp
		sp.opts.Root = root
		return startStream(sp)
	}
}

// sendChunk is how much of a reply the send-ignored server's one send()
// writes: the room a socket buffer happens to have.
const sendChunk = 16 << 10

// firstChunkConn writes only the first sendChunk bytes of each write and
// reports the whole as sent: send()'s return value ignored.
type firstChunkConn struct{ targets.Conn }

func (c firstChunkConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(p[:min(len(p), sendChunk)]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// recvIsMessage answers every read as if it ended a line.
type recvIsMessage struct{ session }

func (s recvIsMessage) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if len(in) > 0 && in[len(in)-1] != '\n' {
		in = append(append([]byte(nil), in...), '\n')
	}
	return s.Session.Data(in, now, out)
}

// noEOFConn never reports EOF: it blocks as a loop on recv() == b"" that
// neither breaks nor closes would, until the server shuts down.
type noEOFConn struct {
	targets.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *noEOFConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if errors.Is(err, io.EOF) {
		<-c.closed
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *noEOFConn) kill() { c.once.Do(func() { close(c.closed) }) }

func (c *noEOFConn) Close() error { c.kill(); return c.Conn.Close() }

// rstConn closes with SO_LINGER 0 instead of an orderly close once armed.
type rstConn struct {
	targets.Conn
	armed atomic.Bool
}

func (c *rstConn) CloseWrite() error {
	if !c.armed.Load() {
		return c.Conn.CloseWrite()
	}
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Conn.Close()
	return errors.New("closed with SO_LINGER 0")
}

// exitRST arms its connection's reset when a line is exit.
type exitRST struct {
	session
	c *rstConn
}

func (s exitRST) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	st := s.Session.Data(in, now, out)
	for _, line := range bytes.Split(in, []byte("\n")) {
		if string(bytes.TrimSuffix(line, []byte("\r"))) == protocol.HelloExit {
			s.c.armed.Store(true)
		}
	}
	return st
}

// readlineLock is the single thread of a server that, once a client's line
// has started, blocks reading the rest of it (a blocking readline inside a
// select loop): every connection's input is processed under one lock,
// held from a line's first byte to its last.
type readlineLock struct{ mu sync.Mutex }

type readlineConn struct {
	targets.Conn
	l    *readlineLock
	held bool
}

func (c *readlineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.held {
		c.l.mu.Lock()
		c.held = true
	}
	if err != nil || n == 0 || p[n-1] == '\n' {
		c.held = false
		c.l.mu.Unlock()
	}
	return n, err
}

func (c *readlineConn) Close() error {
	if c.held {
		c.held = false
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}

// unboundedLines buffers input until a newline, with no limit, and hands
// the session only whole lines.
type unboundedLines struct {
	session
	pending *[]byte
}

func (s unboundedLines) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	*s.pending = append(*s.pending, in...)
	i := bytes.LastIndexByte(*s.pending, '\n')
	if i < 0 {
		return protocol.Step{}
	}
	st := s.Session.Data((*s.pending)[:i+1], now, out)
	*s.pending = append((*s.pending)[:0], (*s.pending)[i+1:]...)
	return st
}

// leakConn shuts down its write side but never closes its descriptor.
type leakConn struct {
	targets.Conn
	leaks *leaks
}

func (c *leakConn) Close() error {
	c.Conn.CloseWrite()
	c.leaks.add(c.Conn)
	return nil
}

// leaks is the leaked descriptors of a server, which it releases only when
// it shuts down; past max, accept fails as with EMFILE.
type leaks struct {
	mu    sync.Mutex
	conns []io.Closer
	max   int
}

func (l *leaks) add(c io.Closer) {
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
}

func (l *leaks) room() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns) < l.max
}

func (l *leaks) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// staleReply answers the third and later lines of a connection with the
// second line's reply.
type staleReply struct {
	session
	n     *int
	cache *[]byte
}

func (s staleReply) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	var tmp bytes.Buffer
	st := s.Session.Data(in, now, &tmp)
	for _, line := range bytes.SplitAfter(tmp.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		*s.n++
		if *s.n >= 3 && line[len(line)-1] == '\n' {
			out.Write(*s.cache)
			continue
		}
		*s.cache = append((*s.cache)[:0], line...)
		out.Write(line)
	}
	return st
}

// rewrite replaces bytes in everything the session writes.
type rewrite struct {
	session
	old, new []byte
}

func (s rewrite) fix(out *bytes.Buffer, start int, st protocol.Step) protocol.Step {
	b := out.Bytes()[start:]
	if bytes.Contains(b, s.old) {
		fixed := bytes.ReplaceAll(b, s.old, s.new)
		out.Truncate(start)
		out.Write(fixed)
	}
	return st
}

func (s rewrite) Open(now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	return s.fix(out, n, s.Session.Open(now, out))
}

func (s rewrite) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	return s.fix(out, n, s.Session.Data(in, now, out))
}

func (s rewrite) Wake(now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	return s.fix(out, n, s.Session.Wake(now, out))
}

// dropLast drops the output that comes with the session's close: the
// poem's last line.
type dropLast struct{ session }

func (s dropLast) Wake(now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	st := s.Session.Wake(now, out)
	if st.Close {
		out.Truncate(n)
	}
	return st
}

// isReset reports whether err is a peer's reset or a broken pipe.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// answerWatch notes whether the session answered a line (output after its
// greeting), for a crash that depends on it.
type answerWatch struct {
	session
	answered bool
}

func (s *answerWatch) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	st := s.Session.Data(in, now, out)
	s.answered = s.answered || out.Len() > n
	return st
}

// renameExit hides the exit command from the session: a line exit reaches
// it as exit_, a name like any other. It holds back only the start of a
// line that may still become exit, so the session's line limit and its
// handling of fragments are untouched.
type renameExit struct {
	session
	st *exitState
}

type exitState struct {
	pending []byte // the start of a line that may still be exit
	midLine bool   // part of the current line has gone to the session
}

func (s renameExit) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	buf := append(s.st.pending, in...)
	s.st.pending = nil
	var pass []byte
	for _, seg := range bytes.SplitAfter(buf, []byte("\n")) {
		switch {
		case len(seg) == 0:
		case seg[len(seg)-1] == '\n':
			if !s.st.midLine && string(bytes.TrimRight(seg, "\r\n")) == protocol.HelloExit {
				seg = []byte(protocol.HelloExit + "_\n")
			}
			pass = append(pass, seg...)
			s.st.midLine = false
		case !s.st.midLine && strings.HasPrefix(protocol.HelloExit+"\r", string(seg)):
			s.st.pending = append([]byte(nil), seg...)
		default:
			pass = append(pass, seg...)
			s.st.midLine = true
		}
	}
	if len(pass) == 0 {
		return protocol.Step{}
	}
	return s.Session.Data(pass, now, out)
}
