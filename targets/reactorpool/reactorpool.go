// Package reactorpool is the reactor + worker pool model, the tutorials'
// select/selectors loop that hands reads to a thread pool, done right: the
// reactor (epoll) reads and writes; a fixed pool of workers runs the
// protocol sessions; each result comes back to the reactor through its
// eventfd wake-up. A connection has at most one session call in flight,
// and input that arrives meanwhile is queued for it in order, so no
// connection is read twice, answered twice or answered out of order (the
// tutorial's pool reads the same socket from two threads).
package reactorpool

import (
	"sync"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/reactor"
)

// DefaultWorkers is the pool size when cfg.Workers is 0, as the tutorial's
// ThreadPoolExecutor(5).
const DefaultWorkers = 5

// MaxWorkers is the most workers the model takes: they run the protocol
// for one reactor, and past a few per CPU they only wait for it. A million
// took 2.7 GB and 3 s before the first client.
const MaxWorkers = 1024

const name = "reactor-pool"

// Model describes the reactor-pool model for the registry.
var Model = targets.Model{
	Name:     name,
	Summary:  "an epoll reactor reads; a worker pool runs the protocol, one call per connection in flight",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: func(targets.Config) int { return 0 },
	Note:     "workers: --workers (default 5, at most 1024); Linux only",
	Limit:    limit,
	Start:    Start,
}

func workers(cfg targets.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return DefaultWorkers
}

func limit(cfg targets.Config) error {
	return targets.AtMost(name, "workers", workers(cfg), MaxWorkers, "workers run the protocol for one reactor")
}

// Start starts a reactor-pool server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	if err := (targets.Model{Name: name, Limit: limit}).Check(cfg); err != nil {
		return nil, err
	}
	n := workers(cfg)
	s, err := reactor.Start(cfg, reactor.Options{Model: name, Poller: "epoll", Exec: NewPool(n)})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Pool is a fixed set of worker goroutines running submitted tasks.
type Pool struct {
	tasks chan func()
	wg    sync.WaitGroup
	once  sync.Once
}

// NewPool starts n workers.
func NewPool(n int) *Pool {
	// The queue holds what the reactor submits while every worker is
	// busy; with one call per connection in flight it never holds more
	// tasks than there are connections, and a full queue only makes the
	// reactor wait for a worker, which never waits for the reactor.
	p := &Pool{tasks: make(chan func(), 1024)}
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.tasks {
				t()
			}
		}()
	}
	return p
}

// Submit queues task for a worker.
func (p *Pool) Submit(task func()) { p.tasks <- task }

// Close lets the workers finish the queued tasks and waits for them.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.tasks) })
	p.wg.Wait()
}
