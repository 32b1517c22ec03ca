// Package iterative is the iterative model of the tutorials' first blocking
// server: one goroutine accepts a connection, serves it to the end, closes
// it and only then accepts the next. A second client waits in the listen
// backlog until the first is done, so the model's capacity is 1.
package iterative

import (
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

// Start starts a server for cfg. Each connection is served on its
// listener's accept goroutine itself: nothing more is accepted there until it
// is done.
func Start(cfg targets.Config) (targets.Server, error) {
	return targets.StartNet("iterative", cfg, (*targets.NetServer).Serve, nil)
}
