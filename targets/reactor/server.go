package reactor

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
	"github.com/socklab/socklab/targets"
)

// Options selects a reactor server's shape. The select, poll and epoll
// models are one loop with a different Poller; reactor-pool adds an
// Executor; reuseport runs Loops loops with one SO_REUSEPORT listener each.
type Options struct {
	// Model names the model in errors and logs.
	Model string
	// Poller is "select", "poll" or "epoll".
	Poller string
	// Loops is the number of reactors (default 1). With more than one,
	// ReusePort must be set: each loop gets its own listener.
	Loops int
	// ReusePort gives each loop its own SO_REUSEPORT listener on the same
	// address (tcp only).
	ReusePort bool
	// Exec, if not nil, runs the protocol sessions off the loop; Close
	// closes it.
	Exec Executor
}

// Server is a running reactor server.
type Server struct {
	addrs   []net.Addr
	loops   []*loopServer
	exec    Executor
	cleanup func()
	wg      sync.WaitGroup
	once    sync.Once
	refused atomic.Uint64
	dropped atomic.Uint64
}

// loopServer is what one loop serves: its listeners, datagram sockets and
// connections. Only the loop's goroutine touches it while the loop runs.
type loopServer struct {
	srv        *Server
	loop       *Loop
	log        *slog.Logger
	exec       Executor
	newSession protocol.Factory
	tcp        bool
	listeners  []*listener
	dgrams     []*dgram
	conns      map[*stream]struct{}
	inflight   int // session calls submitted to exec and not yet finished
	opts       conn.Options
}

// Start starts a reactor server for cfg shaped by o.
func Start(cfg targets.Config, o Options) (*Server, error) {
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		if o.Exec != nil {
			o.Exec.Close()
		}
		return nil, err
	}
	s, err := start(cfg, o, newSession)
	if err != nil && o.Exec != nil {
		o.Exec.Close()
	}
	return s, err
}

func start(cfg targets.Config, o Options, newSession protocol.Factory) (*Server, error) {
	o.Loops = max(o.Loops, 1)
	datagram := protocol.IsDatagram(cfg.Network)
	if o.ReusePort && (datagram || protocol.IsUnix(cfg.Network)) {
		return nil, targets.UnsupportedNetwork(o.Model, cfg.Network)
	}
	if o.Loops > 1 && !o.ReusePort {
		return nil, fmt.Errorf("reactor %s: %d loops need reuseport", o.Model, o.Loops)
	}
	addrs, rmdir, err := targets.ListenAddrs(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{exec: o.Exec, cleanup: rmdir}
	for i := 0; i < o.Loops; i++ {
		p, err := NewPoller(o.Poller)
		if err != nil {
			s.release()
			return nil, err
		}
		opts := cfg.ConnOptions()
		opts.Deferred = o.Exec != nil
		ls := &loopServer{srv: s, loop: NewLoop(p, cfg.Log), log: cfg.Log, exec: o.Exec, opts: opts,
			newSession: newSession, tcp: !protocol.IsUnix(cfg.Network), conns: make(map[*stream]struct{})}
		if o.Exec != nil {
			ls.loop.busy = func() bool { return ls.inflight > 0 }
		}
		s.loops = append(s.loops, ls)
	}
	for ai, a := range addrs {
		for i, ls := range s.loops {
			if i > 0 && ai < len(s.addrs) {
				// For port 0, the other reactors bind the port the first
				// one got.
				a = s.addrs[ai].String()
			}
			sock, err := Listen(cfg.Network, a, o.ReusePort)
			if err != nil {
				s.release()
				return nil, err
			}
			if i == 0 {
				s.addrs = append(s.addrs, sock.Addr)
			}
			if datagram {
				d := &dgram{ls: ls, sock: sock}
				ls.dgrams = append(ls.dgrams, d)
				err = ls.loop.Watch(sock.Fd, Readable, d)
			} else {
				ln := &listener{ls: ls, sock: sock}
				ls.listeners = append(ls.listeners, ln)
				err = ls.loop.Watch(sock.Fd, Readable, ln)
			}
			if err != nil {
				s.release()
				return nil, fmt.Errorf("listen %s %s: %w", cfg.Network, a, err)
			}
		}
	}
	for _, ls := range s.loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := ls.loop.Run(); err != nil {
				// The poller itself failed: nothing this loop watches can
				// be served any more. Close still releases everything.
				ls.log.Error("reactor stopped", "model", o.Model, "err", err)
			}
		}()
	}
	return s, nil
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Refused returns how many connections were refused because the poller
// could not watch them (select(2) and descriptors ≥ FD_SETSIZE).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// Dropped returns how many datagram replies were dropped because the
// socket's send buffer and the bounded queue were full.
func (s *Server) Dropped() uint64 { return s.dropped.Load() }

// Close stops the loops, closes every connection and socket, stops the
// executor's workers, and returns when all of them are released.
func (s *Server) Close() error {
	s.once.Do(func() {
		for _, ls := range s.loops {
			ls.loop.Stop()
		}
		s.wg.Wait()
		s.release()
	})
	return nil
}

// release frees everything once no loop runs. Order matters: connections
// are closed first, then the workers finish the calls in flight and post
// their results, which run here and release those sessions; only then is
// the poller's eventfd closed, since a worker's Post writes to it.
func (s *Server) release() {
	for _, ls := range s.loops {
		for c := range ls.conns {
			c.do(c.core.Abort(), time.Time{})
		}
	}
	if s.exec != nil {
		s.exec.Close()
	}
	for _, ls := range s.loops {
		ls.loop.RunPosted()
		for _, ln := range ls.listeners {
			ln.sock.Close()
		}
		for _, d := range ls.dgrams {
			d.sock.Close()
		}
		ls.loop.p.Close()
	}
	s.cleanup()
}

// listener accepts connections for a loop.
type listener struct {
	ls     *loopServer
	sock   *Socket
	delay  time.Duration
	paused bool
}

// Ready implements Handler: accept what is pending, up to a batch.
func (ln *listener) Ready(Events) {
	if ln.paused {
		return
	}
	ls := ln.ls
	for range 64 {
		fd, _, err := unix.Accept4(ln.sock.Fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR, err == unix.ECONNABORTED, err == unix.EPROTO:
			continue
		default:
			// EMFILE, ENFILE, ENOBUFS, ENOMEM: stop watching the listener
			// for a back-off delay (level-triggered readiness would
			// otherwise spin) and keep serving the connections we have.
			ln.delay = targets.Backoff(ln.delay)
			ls.log.Warn("accept failed; backing off", "addr", ln.sock.Addr, "err", err, "delay", ln.delay)
			ln.paused = true
			ls.loop.Rewatch(ln.sock.Fd, 0)
			ls.loop.At(time.Now().Add(ln.delay), func() {
				ln.paused = false
				ls.loop.Rewatch(ln.sock.Fd, Readable)
			})
			return
		}
		ln.delay = 0
		if ls.tcp {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		ls.serve(fd)
	}
}

// serve starts a connection on an accepted descriptor.
func (ls *loopServer) serve(fd int) {
	c := &stream{srv: ls, fd: fd, interest: Readable}
	if err := ls.loop.Watch(fd, Readable, c); err != nil {
		ls.srv.refused.Add(1)
		ls.log.Warn("connection refused: the poller cannot watch it", "fd", fd, "err", err)
		unix.Close(fd)
		return
	}
	c.core = conn.New(ls.newSession(), ls.opts)
	ls.conns[c] = struct{}{}
	c.open()
}
