// Package pool is the worker-pool model of the tutorials' ThreadPoolExecutor
// server: a fixed number of workers (default 5) take accepted connections
// from an unbounded queue and serve each to the end. Client N+1 of N workers
// is accepted at once but waits in the queue, unanswered, until a worker
// frees.
package pool

import (
	"net"
	"sync"

	"github.com/socklab/socklab/targets"
)

// DefaultWorkers is the worker count when Config.Workers is 0, the
// tutorial's ThreadPoolExecutor(5).
const DefaultWorkers = 5

// MaxWorkers is the most workers the model takes. A worker is a goroutine
// started with the server: a million of them took 2.7 GB and 6 s before the
// first client, to serve more connections than a process has descriptors.
const MaxWorkers = 10000

// Model describes the pool model for the registry.
var Model = targets.Model{
	Name:     "pool",
	Summary:  "fixed workers (--workers, default 5) serve an unbounded queue of accepted connections",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: workers,
	Note:     "client N+1 is accepted and queued until a worker frees; at most 10000 workers",
	Limit:    limit,
	Start:    Start,
}

func limit(cfg targets.Config) error {
	return targets.AtMost("pool", "workers", workers(cfg), MaxWorkers, "a worker is a goroutine that holds one connection")
}

func workers(cfg targets.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return DefaultWorkers
}

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	if err := (targets.Model{Name: "pool", Limit: limit}).Check(cfg); err != nil {
		return nil, err
	}
	var q queue
	q.init()
	var ws sync.WaitGroup
	s, err := targets.StartNet("pool", cfg,
		func(_ *targets.NetServer, c net.Conn) { q.push(c) },
		// At the end of Close every queued connection has been closed
		// and drained by the workers; the empty, closed queue ends them.
		func() { q.close(); ws.Wait() })
	if err != nil {
		return nil, err
	}
	for range workers(cfg) {
		ws.Add(1)
		go func() {
			defer ws.Done()
			for {
				c, ok := q.pop()
				if !ok {
					return
				}
				s.Serve(c)
			}
		}()
	}
	return s, nil
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
