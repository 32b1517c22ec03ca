package dispatcher

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
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

// EchoServer is the tutorial's EchoServer: the listening channel. Its
// HandleAccept makes a Handler for each connection (process_request).
type EchoServer struct {
	Base
	sock       *reactor.Socket
	newSession protocol.Factory
	opts       conn.Options
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
		h := &EchoHandler{core: conn.New(s.newSession(), s.opts), buf: s.buf, log: s.log}
		h.Init(s.loop, fd, h, true)
		now := time.Now()
		h.do(h.core.Open(now), now)
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

// EchoHandler is the tutorial's EchoHandler, driving any protocol session
// through its connection core (package protocol/conn): HandleRead feeds
// what recv returned to the core, HandleWrite sends what the core holds and
// reports what send took, and Readable, Writable and WakeAt answer from the
// core's last action.
type EchoHandler struct {
	Base
	core *conn.Conn
	a    conn.Action // the core's last action
	buf  []byte
	log  *slog.Logger
}

// Readable implements Dispatcher: while the core takes input (the session
// does and the output is below HighWater) and while draining after our FIN.
func (h *EchoHandler) Readable() bool { return h.a.WantRead }

// Writable implements Dispatcher: only while there is something to send.
func (h *EchoHandler) Writable() bool { return h.a.WantWrite }

// HandleRead implements Dispatcher.
func (h *EchoHandler) HandleRead() {
	n, err := h.Recv(h.buf)
	now := time.Now()
	switch {
	case errors.Is(err, errEOF):
		h.do(h.core.EOF(now), now)
	case err != nil:
		h.do(h.core.Fail(err), now)
	case n > 0:
		h.do(h.core.Received(h.buf[:n], now), now)
	}
}

// HandleWrite implements Dispatcher: send what the socket takes, keep the
// rest (the tutorial's buffer = buffer[sent:], kept by the core).
func (h *EchoHandler) HandleWrite() {
	now := time.Now()
	h.do(h.core.Writable(now), now)
}

// do performs the core's action, as asyncore.dispatcher_with_send's
// initiate_send does: send now what the socket takes rather than wait a
// turn for writability, then shut down, close, or keep the action for the
// loop's next Readable, Writable and WakeAt.
func (h *EchoHandler) do(a conn.Action, now time.Time) {
	for {
		if len(a.Out) > 0 {
			n, err := h.Send(a.Out)
			switch {
			case err != nil:
				a = h.core.Fail(err)
				continue
			case n > 0:
				a = h.core.Wrote(n, now)
				continue
			}
		} else if a.FIN {
			if err := h.Shutdown(); err != nil {
				a = h.core.Fail(err)
			} else {
				a = h.core.FINSent(now)
			}
			continue
		}
		break
	}
	h.a = a
	if a.Close {
		if err := h.core.Err(); err != nil {
			h.log.Debug("connection dropped", "fd", h.fd, "err", err)
		}
		h.Base.Close()
	}
}

// WakeAt implements Timed.
func (h *EchoHandler) WakeAt() time.Time { return h.a.WakeAt }

// HandleWake implements Timed.
func (h *EchoHandler) HandleWake() {
	now := time.Now()
	h.do(h.core.Timer(now), now)
}

// HandleClose implements Dispatcher.
func (h *EchoHandler) HandleClose() { h.Close() }

// Close closes the channel and releases its session's resources.
func (h *EchoHandler) Close() { h.do(h.core.Abort(), time.Now()) }

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
		srv := &EchoServer{sock: sock, newSession: newSession, opts: cfg.ConnOptions(), buf: buf, log: cfg.Log, tcp: !protocol.IsUnix(cfg.Network)}
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
