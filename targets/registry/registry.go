// Package registry names every reference target model, so that the CLI, the
// specs and the benchmarks iterate over one list.
package registry

import (
	"fmt"
	"strings"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/dgram"
	"github.com/socklab/socklab/targets/dispatcher"
	"github.com/socklab/socklab/targets/fork"
	"github.com/socklab/socklab/targets/goroutine"
	"github.com/socklab/socklab/targets/iterative"
	"github.com/socklab/socklab/targets/pool"
	"github.com/socklab/socklab/targets/reactor"
	"github.com/socklab/socklab/targets/reactorpool"
	"github.com/socklab/socklab/targets/reuseport"
	"github.com/socklab/socklab/targets/thread"
)

// models is the registry, in the order `socklab models` shows: the blocking
// family first, then the event-driven one, then the datagram servers.
var models = []targets.Model{
	iterative.Model,
	thread.Model,
	goroutine.Model,
	pool.Model,
	fork.Model,
	reactor.SelectModel,
	reactor.PollModel,
	reactor.EpollModel,
	dispatcher.Model,
	reactorpool.Model,
	reuseport.Model,
	dgram.UDP,
	dgram.Unixgram,
}

// Models returns every model.
func Models() []targets.Model { return append([]targets.Model(nil), models...) }

// Lookup returns the model called name.
func Lookup(name string) (targets.Model, error) {
	for _, m := range models {
		if m.Name == name {
			return m, nil
		}
	}
	return targets.Model{}, fmt.Errorf("unknown model %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// Names returns the models' names in registry order.
func Names() []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return names
}
