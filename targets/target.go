// Package targets holds socklab's reference servers: one package per
// concurrency model, each only a driver that moves bytes between sockets and
// the sans-I/O sessions of package protocol.
//
// Every server follows the net/http/httptest contract: it listens on port 0
// (or a fresh temporary Unix path) unless told otherwise, reports its
// addresses, and has a Close that stops accepting, closes its connections and
// returns only when every goroutine, thread, process and descriptor it made
// is released. Package targets/registry names every model.
package targets

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// Networks a server can listen on.
const (
	TCP      = "tcp"
	Unix     = "unix"
	UDP      = "udp"
	Unixgram = "unixgram"
)

// Config says what a server serves and where.
type Config struct {
	// Network is tcp (default), tcp4, tcp6, unix, udp or unixgram.
	Network string
	// Listen is the addresses to listen on. The default is one listener on
	// 127.0.0.1:0, or a fresh path in a temporary directory for Unix
	// networks. Several listeners serve the same protocol (the tutorial's
	// poetry server listens on three ports).
	Listen []string
	// Protocol is the protocol's name (see protocol.Names).
	Protocol string
	// Options configures the protocol.
	Options protocol.Options
	// Workers is the worker count of pool models and the reactor count of
	// reuseport (0: the model's default).
	Workers int
	// MaxConns caps concurrent connections for models that spend a thread
	// or a process on each (0: the model's default).
	MaxConns int
	// RequestTimeout bounds the time from the first byte of a request (its
	// head: a command line, an HTTP head) to its end; IdleTimeout, the time
	// no byte moves while no request is arriving (a silent client, a
	// stalled upload, a reply that is not read). Past either the
	// connection is closed. Every stream model keeps both, through the
	// connection core (conn.Options). 0: DefaultRequestTimeout and
	// DefaultIdleTimeout.
	RequestTimeout, IdleTimeout time.Duration
	// Log receives the server's diagnostics (nil: discarded).
	Log *slog.Logger
}

// Server is a running reference target.
type Server interface {
	// Addrs returns the addresses the server listens on, one per listener.
	Addrs() []net.Addr
	// Close stops accepting, closes every connection and waits until all
	// the server's resources are released. It is safe to call more than
	// once.
	Close() error
}

// Model is one concurrency model.
type Model struct {
	Name    string
	Summary string
	// Networks is the networks the model serves, in the order shown.
	Networks []string
	// Capacity returns how many connections the model serves at once under
	// cfg, or 0 if it has no declared limit. A client past the capacity is
	// not refused: it waits in the listen backlog or a queue.
	Capacity func(cfg Config) int
	// Note is a caveat shown beside the model (platform limits, caps).
	Note string
	// Limit, if not nil, refuses a configuration beyond what the model can
	// hold: more threads than the Go runtime allows, more goroutines or
	// processes than are any use. Its error wraps ErrLimit and says the
	// limit. Check calls it; the registry's Start checks first.
	Limit func(cfg Config) error
	// Start starts a server.
	Start func(cfg Config) (Server, error)
}

// ErrLimit is returned for a configuration beyond what a model can hold.
var ErrLimit = errors.New("beyond what the model can hold")

// Check refuses a configuration m cannot run: a negative count, or one past
// the model's Limit.
func (m Model) Check(cfg Config) error {
	switch {
	case cfg.Workers < 0:
		return fmt.Errorf("model %s: %d workers: must be positive", m.Name, cfg.Workers)
	case cfg.MaxConns < 0:
		return fmt.Errorf("model %s: max-conns %d: must be positive", m.Name, cfg.MaxConns)
	case m.Limit != nil:
		return m.Limit(cfg)
	}
	return nil
}

// AtMost is a Model.Limit helper: it refuses a setting (named as its flag,
// "workers" or "max-conns") of n past limit, saying why.
func AtMost(model, setting string, n, limit int, why string) error {
	if n <= limit {
		return nil
	}
	return fmt.Errorf("model %s: %s %d: %w: at most %d (%s)", model, setting, n, ErrLimit, limit, why)
}

// Serves reports whether m serves network; tcp4 and tcp6 (udp4, udp6) are
// served where tcp (udp) is.
func (m Model) Serves(network string) bool {
	switch network {
	case "tcp4", "tcp6":
		network = TCP
	case "udp4", "udp6":
		network = UDP
	}
	return slices.Contains(m.Networks, network)
}

// The default timeouts of Config: long enough for a person typing at a
// tutorial's client, and for the slow and fragmented clients of the
// behaviour catalogue; short enough that stalled clients do not hold a
// pool's workers or a thread model's threads for long.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
)

// ConnOptions returns the options of the connection core under cfg, its
// timeouts defaulted.
func (cfg Config) ConnOptions() conn.Options {
	o := conn.Options{RequestTimeout: cfg.RequestTimeout, IdleTimeout: cfg.IdleTimeout}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// ErrUnsupported is returned by Start for a network or protocol that a model
// does not serve.
var ErrUnsupported = errors.New("not supported")

// Normalize fills cfg's defaults and checks that the protocol exists and fits
// the network. It returns the factory of sessions for stream networks.
func Normalize(cfg *Config) (protocol.Factory, error) {
	if cfg.Network == "" {
		cfg.Network = TCP
	}
	if cfg.Protocol == "" {
		cfg.Protocol = "echo"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := protocol.Lookup(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	if !p.RunsOver(cfg.Network) {
		return nil, fmt.Errorf("protocol %s over %s: %w", p.Name, cfg.Network, ErrUnsupported)
	}
	f, err := p.New(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("protocol %s: %w", p.Name, err)
	}
	return f, nil
}

// UnsupportedNetwork is the error of a model asked for a network it does not
// serve.
func UnsupportedNetwork(model, network string) error {
	return fmt.Errorf("model %s over %s: %w", model, network, ErrUnsupported)
}

// ListenerAddrs returns the addresses of ls.
func ListenerAddrs(ls []net.Listener) []net.Addr {
	addrs := make([]net.Addr, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr()
	}
	return addrs
}
