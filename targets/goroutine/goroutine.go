// Package goroutine is the goroutine-per-connection model: net.Listen and one
// goroutine per accepted connection over Go's netpoller, the Go shape of the
// tutorials' asyncio coroutines and ThreadingTCPServer.
package goroutine

import (
	"net"

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

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	return targets.StartNet("goroutine", cfg, func(s *targets.NetServer, c net.Conn) { go s.Serve(c) }, nil)
}
