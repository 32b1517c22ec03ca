// Package goroutine is the goroutine-per-connection model: net.Listen and one
// goroutine per accepted connection over Go's netpoller, the Go shape of the
// tutorials' asyncio coroutines and ThreadingTCPServer.
package goroutine

import (
	"net"
	"sync"

	"github.com/socklab/socklab/targets"
)

// Model describes the goroutine model for the registry.
var Model = targets.Model{
	Name:     "goroutine",
	Summary:  "one goroutine per connection over Go's netpoller",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: func(targets.Config) int { return 0 },
	Start:    Start,
}

// Server is a running goroutine-per-connection server.
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
		return nil, targets.UnsupportedNetwork("goroutine", cfg.Network)
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
				if !s.conns.Add(c, c.Close) {
					return
				}
				go func() {
					defer s.conns.Done(c)
					if err := targets.ServeStream(c.(targets.Conn), newSession()); err != nil {
						cfg.Log.Debug("connection ended", "remote", c.RemoteAddr(), "err", err)
					}
				}()
			})
		}()
	}
	return s, nil
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return targets.ListenerAddrs(s.ls) }

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cleanup()
		s.loops.Wait()
		s.conns.CloseAndWait()
	})
	return nil
}
