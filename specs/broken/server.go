// Package broken holds deliberately defective servers, one named defect
// each, taken from the tutorials' own code. They prove the conformance
// suite: run against each of them, the catalogue must fail the behaviours
// of that defect and no other (see the test in this package).
//
// Each is built from the real pieces (the protocol sessions, the shared
// blocking driver targets.ServeStream) with one defect injected by a small
// wrapper around a connection or a session, so that it fails only what its
// defect breaks.
package broken

import (
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// Server is one broken server of the list.
type Server struct {
	// Name is a short id (a flag-friendly word).
	Name string
	// Defect says what is wrong, in one sentence.
	Defect string
	// Protocol and Network are what it speaks.
	Protocol string
	Network  string
	// Capacity is the capacity it declares (0: no limit), which may be a
	// lie: that is one of the defects.
	Capacity int
	// Fails is the behaviour ids (specs/catalog) the suite must fail, and
	// the only ones it may fail.
	Fails []string
	// MeasureRSS says the suite must be given the server's process id
	// (--pid): its defect is memory. Launch runs it in a process of its
	// own, which returns its free memory to the system as it runs (see
	// measured), so the process's RSS follows the server's growth.
	MeasureRSS bool
	// Start starts it on loopback port 0 (or a temporary Unix path); root
	// is the file protocol's directory.
	Start func(root string) (targets.Server, error)
}

// All returns every broken server.
func All() []Server { return append([]Server(nil), servers...) }

// streamSpec is a stream server made of the real pieces plus hooks.
type streamSpec struct {
	protocol string
	opts     protocol.Options
	// serial serves one connection at a time on the accepting goroutine.
	serial bool
	// workers, if not 0, serves at most this many connections at once;
	// the others wait, accepted, for a worker (a thread pool).
	workers int
	// conn wraps each accepted connection.
	conn func(c targets.Conn) targets.Conn
	// session wraps each session.
	session func(s protocol.Session, c targets.Conn) protocol.Session
	// crash reports whether the error that ended a connection (nil for an
	// orderly end), and its session as wrapped, kill the accept loop: an
	// unhandled exception in a tutorial server.
	crash func(err error, sess protocol.Session) bool
	// accept may refuse an accepted connection (returns false).
	accept func() bool
	// backlog, if not 0, is the listen backlog instead of SOMAXCONN.
	backlog int
	// acceptDelay is spent after each accept, before the next.
	acceptDelay time.Duration
	// ipv6 also listens on [::1] at the port of 127.0.0.1, where each
	// accepted connection is closed at once, unanswered.
	ipv6 bool
}

// streamServer is a running streamSpec.
type streamServer struct {
	l       net.Listener
	cleanup func()
	conns   targets.ConnSet
	loop    sync.WaitGroup
	once    sync.Once
	closing chan struct{} // closed when Close begins
	extra   func()        // releases what a defect held (leaked descriptors)
}

// killer is a wrapper that holds something Close must release.
type killer interface{ kill() }

func startStream(sp streamSpec) (*streamServer, error) {
	cfg := targets.Config{Network: targets.TCP, Protocol: sp.protocol, Options: sp.opts}
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	var s *streamServer
	for attempt := 1; ; attempt++ {
		ls, cleanup, err := targets.Listen(cfg)
		if err != nil {
			return nil, err
		}
		s = &streamServer{l: ls[0], cleanup: cleanup, closing: make(chan struct{})}
		if sp.backlog > 0 {
			if err := relisten(s.l, sp.backlog); err != nil {
				cleanup()
				return nil, err
			}
		}
		if !sp.ipv6 {
			break
		}
		err = s.dropOnIPv6()
		if err == nil {
			break
		}
		s.cleanup()
		// Another program may hold [::1] at the port the kernel gave
		// 127.0.0.1: try another.
		if attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	var pool chan struct{}
	if sp.workers > 0 {
		pool = make(chan struct{}, sp.workers)
	}
	s.loop.Add(1)
	go func() {
		defer s.loop.Done()
		for {
			c, err := s.l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			time.Sleep(sp.acceptDelay)
			if sp.accept != nil && !sp.accept() {
				c.Close()
				continue
			}
			tc := c.(targets.Conn)
			if sp.conn != nil {
				tc = sp.conn(tc)
			}
			closeFn := func() error {
				if k, ok := tc.(killer); ok {
					k.kill()
				}
				return c.Close()
			}
			if !s.conns.Add(c, closeFn) {
				return
			}
			serve := func() {
				defer s.conns.Done(c)
				if pool != nil {
					select {
					case pool <- struct{}{}:
						defer func() { <-pool }()
					case <-s.closing:
						return
					}
				}
				sess := newSession()
				if sp.session != nil {
					sess = sp.session(sess, tc)
				}
				err := targets.ServeStream(tc, sess)
				if sp.crash != nil && sp.crash(err, sess) {
					// The exception escapes the handler and ends the
					// accept loop: the server stops listening.
					s.l.Close()
				}
			}
			if sp.serial {
				serve()
			} else {
				go serve()
			}
		}
	}()
	return s, nil
}

func (s *streamServer) Addrs() []net.Addr { return []net.Addr{s.l.Addr()} }

func (s *streamServer) Close() error {
	s.once.Do(func() {
		close(s.closing)
		s.cleanup()
		s.conns.CloseAndWait()
		s.loop.Wait()
		if s.extra != nil {
			s.extra()
		}
	})
	return nil
}

// session is a protocol.Session with any method replaced.
type session struct {
	protocol.Session
}

// Release passes Release on to the wrapped session.
func (s session) Release() {
	if r, ok := s.Session.(protocol.Releaser); ok {
		r.Release()
	}
}

// relisten sets the listen backlog of l: Linux takes a second listen() on
// a listening socket as a new backlog.
func relisten(l net.Listener, backlog int) error {
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("listen(%d): %w", backlog, lerr)
	}
	return nil
}

// dropOnIPv6 listens on [::1] at the port of s's listener and closes every
// connection accepted there at once.
func (s *streamServer) dropOnIPv6() error {
	_, port, err := net.SplitHostPort(s.l.Addr().String())
	if err != nil {
		return err
	}
	l6, err := net.Listen("tcp6", net.JoinHostPort("::1", port))
	if err != nil {
		return fmt.Errorf("listen on ::1 beside %s: %w", s.l.Addr(), err)
	}
	cleanup := s.cleanup
	s.cleanup = func() { l6.Close(); cleanup() }
	s.loop.Add(1)
	go func() {
		defer s.loop.Done()
		for {
			c, err := l6.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			c.Close()
		}
	}()
	return nil
}

// measuredServer is a broken server whose defect is memory. The Go runtime
// keeps freed pages resident, so the server's growth could land on pages
// already counted (freed by the test's own earlier work, or by the
// server's) and RSS would hide it. It returns free pages to the system
// every tick, so RSS follows the live heap and the server's growth shows.
type measuredServer struct {
	targets.Server
	stop chan struct{}
	done chan struct{}
}

// rssTick is how often a measured server returns free memory.
const rssTick = 100 * time.Millisecond

func measured(start func(string) (targets.Server, error)) func(string) (targets.Server, error) {
	return func(root string) (targets.Server, error) {
		srv, err := start(root)
		if err != nil {
			return nil, err
		}
		m := &measuredServer{Server: srv, stop: make(chan struct{}), done: make(chan struct{})}
		go func() {
			defer close(m.done)
			t := time.NewTicker(rssTick)
			defer t.Stop()
			for {
				debug.FreeOSMemory()
				select {
				case <-m.stop:
					return
				case <-t.C:
				}
			}
		}()
		return m, nil
	}
}

// Close stops returning memory and closes the server, waiting for both.
func (m *measuredServer) Close() error {
	close(m.stop)
	<-m.done
	return m.Server.Close()
}
