// Package iterative is the iterative model of the tutorials' first blocking
// server: one goroutine accepts a connection, serves it to the end, closes
// it and only then accepts the next. A second client waits in the listen
// backlog until the first is done, so the model's capacity is 1.
package iterative

import (
	"net"
	"sync"

	"github.com/socklab/socklab/targets"
)

// Model describes the iterative model for the registry.
var Model = targets.Model{
	Name:     "iterative",
	Summary:  "one client at a time: accept, serve to the end, close, repeat",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: func(targets.Config) int { return 1 },
	Note:     "with several --listen addresses, one client at a time per listener",
	Start:    Start,
}

// Server is a running iterative server.
type Server struct {
	ls      []net.Listener
	cleanup func()
	conns   targets.ConnSet
	loops   sync.WaitGroup
	once    sync.Once
}

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	if targets.IsDatagram(cfg.Network) {
		return nil, targets.UnsupportedNetwork("iterative", cfg.Network)
	}
	ls, cleanup, err := targets.Listen(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{ls: ls, cleanup: cleanup}
	for _, l := range ls {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			targets.AcceptLoop(l, cfg.Log, func(c net.Conn) {
				// The connection is served on the accepting goroutine
				// itself: nothing is accepted until it is done.
				if !s.conns.Add(c, c.Close) {
					return
				}
				defer s.conns.Done(c)
				if err := targets.ServeStream(c.(targets.Conn), newSession()); err != nil {
					cfg.Log.Debug("connection ended", "remote", c.RemoteAddr(), "err", err)
				}
			})
		}()
	}
	return s, nil
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return targets.ListenerAddrs(s.ls) }

// Close stops accepting, closes the connection being served and waits for
// the accept loops to end.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cleanup()
		// The loops may be inside ServeStream: close the connections first
		// so that they return, then wait for the loops.
		s.conns.CloseAndWait()
		s.loops.Wait()
	})
	return nil
}
