// Package pool is the worker-pool model of the tutorials' ThreadPoolExecutor
// server: a fixed number of workers (default 5) take accepted connections
// from an unbounded queue and serve each to the end. Client N+1 of N workers
// is accepted at once but waits in the queue, unanswered, until a worker
// frees.
package pool

import (
	"fmt"
	"net"
	"sync"

	"github.com/socklab/socklab/targets"
)

// DefaultWorkers is the worker count when Config.Workers is 0, the
// tutorial's ThreadPoolExecutor(5).
const DefaultWorkers = 5

// Model describes the pool model for the registry.
var Model = targets.Model{
	Name:     "pool",
	Summary:  "fixed workers (--workers, default 5) serve an unbounded queue of accepted connections",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: workers,
	Note:     "client N+1 is accepted and queued until a worker frees",
	Start:    Start,
}

func workers(cfg targets.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return DefaultWorkers
}

// Server is a running worker-pool server.
type Server struct {
	ls      []net.Listener
	cleanup func()
	conns   targets.ConnSet
	queue   queue
	loops   sync.WaitGroup
	workers sync.WaitGroup
	once    sync.Once
}

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	if targets.IsDatagram(cfg.Network) {
		return nil, targets.UnsupportedNetwork("pool", cfg.Network)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("model pool: %d workers: must be positive", cfg.Workers)
	}
	ls, cleanup, err := targets.Listen(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{ls: ls, cleanup: cleanup}
	s.queue.init()
	for range workers(cfg) {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			for {
				c, ok := s.queue.pop()
				if !ok {
					return
				}
				if err := targets.ServeStream(c.(targets.Conn), newSession()); err != nil {
					cfg.Log.Debug("connection ended", "remote", c.RemoteAddr(), "err", err)
				}
				s.conns.Done(c)
			}
		}()
	}
	for _, l := range ls {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			targets.AcceptLoop(l, cfg.Log, func(c net.Conn) {
				// A queued connection is registered at once, so that
				// Close closes it too.
				if s.conns.Add(c, c.Close) {
					s.queue.push(c)
				}
			})
		}()
	}
	return s, nil
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return targets.ListenerAddrs(s.ls) }

// Close stops accepting, closes every connection, served or queued, and
// waits for the workers.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cleanup()
		s.loops.Wait()
		// Workers drain the queue of closed connections quickly, then
		// see it closed and empty and return.
		s.queue.close()
		s.conns.CloseAndWait()
		s.workers.Wait()
	})
	return nil
}

// queue is an unbounded FIFO of accepted connections.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []net.Conn
	closed bool
}

func (q *queue) init() { q.cond = sync.NewCond(&q.mu) }

func (q *queue) push(c net.Conn) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop returns the oldest connection, waiting for one; it returns false once
// the queue is closed and empty.
func (q *queue) pop() (net.Conn, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return nil, false
	}
	c := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return c, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
