package dispatcher

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/reactor"
)

const name = "dispatcher"

// Model describes the dispatcher model for the registry.
var Model = targets.Model{
	Name:     name,
	Summary:  "asyncore's dispatcher API (readable/writable/handle_read/handle_write) over epoll",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: func(targets.Config) int { return 0 },
	Note:     "Linux only (epoll)",
	Start:    Start,
}

var errEOF = io.EOF

// recvSize is asyncore's recv buffer size here; one buffer is shared by the
// loop's handlers, since only one runs at a time.
const recvSize = 64 << 10

// drainLimit bounds the bytes discarded during a lingering close.
const drainLimit = 4 << 20

// EchoServer is the tutorial's EchoServer: the listening channel. Its
// HandleAccept makes a Handler for each connection (process_request).
type EchoServer struct {
	Base
	sock       *reactor.Socket
	newSession protocol.Factory
	buf        []byte
	log        *slog.Logger
	tcp        bool
	paused     bool
	resumeAt   time.Time
	delay      time.Duration
}

// Readable implements Dispatcher: always, except while backing off after
// EMFILE.
func (s *EchoServer) Readable() bool { return !s.paused }

// Writable implements Dispatcher: a listener never writes.
func (s *EchoServer) Writable() bool { return false }

// HandleAccept implements Dispatcher.
func (s *EchoServer) HandleAccept() {
	for range 64 {
		fd, err := s.Accept()
		if err != nil {
			// EMFILE, ENFILE, ENOBUFS: stop reading the listener for a
			// back-off delay, keep serving the channels we have.
			s.delay = targets.Backoff(s.delay)
			s.paused, s.resumeAt = true, time.Now().Add(s.delay)
			s.log.Warn("accept failed; backing off", "addr", s.sock.Addr, "err", err, "delay", s.delay)
			return
		}
		if fd < 0 {
			return
		}
		s.delay = 0
		if s.tcp {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		h := &EchoHandler{sess: s.newSession(), buf: s.buf, log: s.log}
		h.Init(s.loop, fd, h, true)
		h.call(h.sess.Open(time.Now(), &h.out))
	}
}

// WakeAt implements Timed: the end of the accept back-off.
func (s *EchoServer) WakeAt() time.Time {
	if s.paused {
		return s.resumeAt
	}
	return time.Time{}
}

// HandleWake implements Timed.
func (s *EchoServer) HandleWake() { s.paused = false }

// Close closes the listener and removes a Unix socket's path.
func (s *EchoServer) Close() {
	if s.loop != nil {
		l := s.loop
		delete(l.Map, s.fd)
		if _, ok := l.watched[s.fd]; ok {
			l.p.Remove(s.fd)
			delete(l.watched, s.fd)
		}
		s.loop = nil
	}
	s.sock.Close()
}

// HandleClose implements Dispatcher.
func (s *EchoServer) HandleClose() { s.Close() }

// EchoHandler is the tutorial's EchoHandler, driving any protocol session:
// HandleRead feeds what recv returned to the session, HandleWrite sends the
// buffer and keeps what send did not take.
type EchoHandler struct {
	Base
	sess       protocol.Session
	out        bytes.Buffer
	st         protocol.Step
	buf        []byte
	log        *slog.Logger
	eof        bool
	draining   bool
	drainUntil time.Time
	drained    int
}

// Readable implements Dispatcher: while the session takes input and the
// output buffer is below HighWater, and while draining after our FIN.
func (h *EchoHandler) Readable() bool {
	return h.draining || !h.eof && !h.st.Close && h.out.Len() < protocol.HighWater
}

// Writable implements Dispatcher: only while there is something to send.
func (h *EchoHandler) Writable() bool {
	return !h.draining && (h.out.Len() > 0 || h.st.More)
}

// HandleRead implements Dispatcher.
func (h *EchoHandler) HandleRead() {
	if h.draining {
		n, err := h.Recv(h.buf)
		if h.drained += n; err != nil || h.drained >= drainLimit {
			h.Close()
		}
		return
	}
	n, err := h.Recv(h.buf)
	switch {
	case errors.Is(err, errEOF):
		h.eof = true
		h.call(keepWake(h.st, h.sess.EOF(time.Now(), &h.out)))
	case err != nil:
		h.log.Debug("connection dropped", "fd", h.fd, "err", err)
		h.HandleClose()
	case n > 0:
		h.call(keepWake(h.st, h.sess.Data(h.buf[:n], time.Now(), &h.out)))
	}
}

// HandleWrite implements Dispatcher: send what the socket takes, keep the
// rest (the tutorial's buffer = buffer[sent:]).
func (h *EchoHandler) HandleWrite() { h.initiateSend() }

// initiateSend is asyncore.dispatcher_with_send's: send now what the socket
// takes rather than wait a turn for writability.
func (h *EchoHandler) initiateSend() {
	for range 64 {
		for h.out.Len() > 0 {
			n, err := h.Send(h.out.Bytes())
			if err != nil {
				h.log.Debug("connection dropped", "fd", h.fd, "err", err)
				h.HandleClose()
				return
			}
			if n == 0 {
				break
			}
			h.out.Next(n)
		}
		if !h.st.More || h.out.Len() >= protocol.LowWater {
			break
		}
		next := h.sess.Wake(time.Now(), &h.out)
		next.Close = next.Close || h.st.Close
		h.st = keepWake(h.st, next)
	}
	h.maybeClose()
}

// call takes the session's step and sends what it produced.
func (h *EchoHandler) call(st protocol.Step) {
	h.st = st
	h.initiateSend()
}

// maybeClose starts the orderly close once everything owed is sent: FIN,
// then drain what the peer still sends, bounded in time and bytes.
func (h *EchoHandler) maybeClose() {
	if h.loop == nil || h.draining || h.out.Len() > 0 || h.st.More {
		return
	}
	if !h.st.Close && !(h.eof && h.st.WakeAt.IsZero()) {
		return
	}
	if err := h.Shutdown(); err != nil || h.eof {
		h.HandleClose()
		return
	}
	h.draining, h.drainUntil = true, time.Now().Add(targets.DrainTimeout)
}

// WakeAt implements Timed.
func (h *EchoHandler) WakeAt() time.Time {
	switch {
	case h.draining:
		return h.drainUntil
	case h.st.Close:
		return time.Time{}
	}
	return h.st.WakeAt
}

// HandleWake implements Timed.
func (h *EchoHandler) HandleWake() {
	if h.draining {
		h.Close()
		return
	}
	h.st.WakeAt = time.Time{}
	next := h.sess.Wake(time.Now(), &h.out)
	next.Close = next.Close || h.st.Close
	h.call(next)
}

// HandleClose implements Dispatcher.
func (h *EchoHandler) HandleClose() {
	h.Close()
}

// Close closes the channel and releases its session's resources.
func (h *EchoHandler) Close() {
	if h.loop != nil {
		h.Base.Close()
		if r, ok := h.sess.(interface{ Release() }); ok {
			r.Release()
		}
	}
}

func keepWake(prev, next protocol.Step) protocol.Step {
	if next.WakeAt.IsZero() {
		next.WakeAt = prev.WakeAt
	}
	return next
}

// Server is a running dispatcher server: one loop, its listeners and their
// handlers.
type Server struct {
	loop    *Loop
	p       reactor.Poller
	addrs   []net.Addr
	cleanup func()
	done    chan struct{}
	once    sync.Once
}

// Start starts a dispatcher server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	addrs, rmdir, err := targets.ListenAddrs(cfg)
	if err != nil {
		return nil, err
	}
	p, err := reactor.NewEpoll()
	if err != nil {
		rmdir()
		return nil, err
	}
	s := &Server{loop: NewLoop(p, cfg.Log), p: p, cleanup: rmdir, done: make(chan struct{})}
	buf := make([]byte, recvSize)
	for _, a := range addrs {
		sock, err := reactor.Listen(cfg.Network, a, false)
		if err != nil {
			s.release()
			return nil, err
		}
		srv := &EchoServer{sock: sock, newSession: newSession, buf: buf, log: cfg.Log, tcp: !protocol.IsUnix(cfg.Network)}
		srv.Init(s.loop, sock.Fd, srv, false)
		srv.Listen()
		s.addrs = append(s.addrs, sock.Addr)
	}
	go func() {
		defer close(s.done)
		if err := s.loop.Run(); err != nil {
			cfg.Log.Error("dispatcher loop stopped", "err", err)
		}
	}()
	return s, nil
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Refused returns how many connections the poller could not watch.
func (s *Server) Refused() uint64 { return s.loop.Refused.Load() }

// Close stops the loop, closes every channel and waits.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.loop.Stop()
		<-s.done
		s.release()
	})
	return nil
}

func (s *Server) release() {
	for _, d := range s.loop.Map {
		d.HandleClose()
	}
	s.p.Close()
	s.cleanup()
}
