package targets

import (
	"net"
	"sync"

	"github.com/socklab/socklab/protocol"
)

// NetServer is what the blocking models over net.Listen share: the
// listeners, an accept loop each, the set of live connections, and a Close
// that releases them in order. A model says only what happens to an accepted
// connection: the iterative model serves it on the accepting goroutine, the
// goroutine model spawns a goroutine, the pool model queues it for a worker.
type NetServer struct {
	cfg        Config
	newSession protocol.Factory
	ls         []net.Listener
	cleanup    func()
	conns      ConnSet
	loops      sync.WaitGroup
	after      func()
	once       sync.Once
}

// StartNet starts a stream server for model under cfg. handle receives every
// accepted connection, already tracked by the server, on the accept loop's
// goroutine; it must see that Serve is called for it exactly once, on any
// goroutine. after, if not nil, runs at the end of Close, once the listeners,
// the accept loops and every connection are closed: it stops the model's
// own goroutines (a pool's workers) and waits for them.
func StartNet(model string, cfg Config, handle func(s *NetServer, c net.Conn), after func()) (*NetServer, error) {
	newSession, err := Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	ls, cleanup, err := Listen(cfg)
	if err != nil {
		return nil, err
	}
	s := &NetServer{cfg: cfg, newSession: newSession, ls: ls, cleanup: cleanup, after: after}
	for _, l := range ls {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			AcceptLoop(l, cfg.Log, func(c net.Conn) {
				// Tracked before it is handed on, so that Close closes
				// a connection whether it is served or still queued.
				if s.conns.Add(c, c.Close) {
					handle(s, c)
				}
			})
		}()
	}
	return s, nil
}

// Serve runs a new session over c to the end, on the calling goroutine, and
// marks c finished. A connection's error ends that connection only.
func (s *NetServer) Serve(c net.Conn) {
	defer s.conns.Done(c)
	if err := ServeStreamWith(c.(Conn), s.newSession(), s.cfg.ConnOptions()); err != nil {
		s.cfg.Log.Debug("connection ended", "remote", c.RemoteAddr(), "err", err)
	}
}

// Addrs returns the listeners' addresses.
func (s *NetServer) Addrs() []net.Addr { return ListenerAddrs(s.ls) }

// Close stops accepting, closes every connection (served or queued), waits
// for their handlers and the accept loops, then runs the model's after hook.
// Connections are closed before the loops are awaited because an iterative
// loop is itself inside Serve.
func (s *NetServer) Close() error {
	s.once.Do(func() {
		s.cleanup()
		s.conns.CloseAndWait()
		s.loops.Wait()
		if s.after != nil {
			s.after()
		}
	})
	return nil
}
