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
	guard(iterative.Model),
	guard(thread.Model),
	guard(goroutine.Model),
	guard(pool.Model),
	guard(fork.Model),
	guard(reactor.SelectModel),
	guard(reactor.PollModel),
	guard(reactor.EpollModel),
	guard(dispatcher.Model),
	guard(reactorpool.Model),
	guard(reuseport.Model),
	guard(dgram.UDP),
	guard(dgram.Unixgram),
}

// guard makes m's Start default the network to the model's first, refuse a
// network the model does not serve (Model.Networks) and a configuration it
// cannot hold (Model.Check), so that these rules are kept here, once, and no
// model checks them by hand.
func guard(m targets.Model) targets.Model {
	start := m.Start
	m.Start = func(cfg targets.Config) (targets.Server, error) {
		if cfg.Network == "" {
			cfg.Network = m.Networks[0]
		}
		if !m.Serves(cfg.Network) {
			return nil, targets.UnsupportedNetwork(m.Name, cfg.Network)
		}
		if err := m.Check(cfg); err != nil {
			return nil, err
		}
		return start(cfg)
	}
	return m
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
