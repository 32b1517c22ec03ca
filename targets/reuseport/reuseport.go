// Package reuseport is the model beyond the tutorials: N independent epoll
// reactors (default: one per CPU), each with its own SO_REUSEPORT listener
// on the same address, so the kernel spreads new connections across them and
// no lock or queue is shared between reactors. For port 0 the first listener
// binds, and the others bind the port it got.
//
// SO_REUSEPORT load balancing is Linux's (since 3.9); it does not apply to
// Unix sockets, so the model serves TCP only.
package reuseport

import (
	"runtime"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/reactor"
)

const name = "reuseport"

// MaxLoops is the most reactors the model takes: each is an OS thread
// blocked in epoll_wait, an epoll descriptor and a listener, and past a few
// per CPU they only contend.
const MaxLoops = 1024

// Model describes the reuseport model for the registry.
var Model = targets.Model{
	Name:     name,
	Summary:  "N epoll reactors, one SO_REUSEPORT listener each",
	Networks: []string{targets.TCP},
	Capacity: func(targets.Config) int { return 0 },
	Note:     "Linux only; TCP only (SO_REUSEPORT does not balance Unix sockets); reactors: --workers (default NumCPU, at most 1024)",
	Limit:    limit,
	Start:    Start,
}

func loops(cfg targets.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return runtime.NumCPU()
}

func limit(cfg targets.Config) error {
	return targets.AtMost(name, "workers", loops(cfg), MaxLoops, "a reactor is a thread, an epoll descriptor and a listener")
}

// Start starts a reuseport server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	if err := (targets.Model{Name: name, Limit: limit}).Check(cfg); err != nil {
		return nil, err
	}
	n := loops(cfg)
	s, err := reactor.Start(cfg, reactor.Options{Model: name, Poller: "epoll", Loops: n, ReusePort: true})
	if err != nil {
		return nil, err
	}
	return s, nil
}
