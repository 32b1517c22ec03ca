package specs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/catalog"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// Timings of the reference targets: short, so that the whole matrix runs in
// minutes, and still generous next to loopback round trips.
const (
	refTimeout   = 2 * time.Second
	refLineDelay = 15 * time.Millisecond
)

// target is one server the catalogue runs against. Everything but addr is
// known when the spec tree is built; addr is set when the server is up.
type target struct {
	name     string
	model    string // "" for an external server
	network  string
	protocol string
	raw      bool // --framing raw
	capacity int  // 0: no declared limit
	timeout  time.Duration
	root     string // file protocol root, "" if unknown
	opts     protocol.Options
	external bool
	// oneWay is a protocol whose whole exchange is one server stream
	// (banner, poetry): no requests.
	oneWay bool

	start func(cfg targets.Config) (targets.Server, error)
	addr  string
}

// kind is catalog.Stream or catalog.Datagram.
func (tg *target) kind() string {
	if targets.IsDatagram(tg.network) {
		return catalog.Datagram
	}
	return catalog.Stream
}

// isOneWay reports whether the protocol's client sends no requests.
func isOneWay(name string) bool {
	p, err := protocol.Lookup(name)
	if err != nil {
		return false
	}
	cl, err := p.NewClient(protocol.ClientOptions{})
	if err != nil {
		return false
	}
	req, _ := cl.Next(nil, 0)
	return len(req) == 0
}

// referenceTargets is every model × network × protocol of the registry.
func referenceTargets() []*target {
	var tgs []*target
	for _, m := range registry.Models() {
		for _, n := range m.Networks {
			for _, p := range protocol.All() {
				if targets.IsDatagram(n) && !p.Datagram || !targets.IsDatagram(n) && !p.Stream {
					continue
				}
				opts := protocol.Options{LineDelay: refLineDelay}
				tgs = append(tgs, &target{
					name:     fmt.Sprintf("%s/%s/%s", m.Name, p.Name, n),
					model:    m.Name,
					network:  n,
					protocol: p.Name,
					capacity: m.Capacity(targets.Config{Network: n, Protocol: p.Name}),
					timeout:  refTimeout,
					opts:     opts,
					oneWay:   isOneWay(p.Name),
					start:    m.Start,
				})
			}
		}
	}
	return tgs
}

// externalTarget is the server given by the flags.
func externalTarget() *target {
	return &target{
		name:     fmt.Sprintf("%s %s at %s", *flagProtocol, *flagNetwork, *flagAddr),
		network:  *flagNetwork,
		protocol: *flagProtocol,
		raw:      *flagFraming == "raw",
		capacity: *flagMaxConc,
		timeout:  *flagTimeout,
		root:     *flagRoot,
		external: true,
		oneWay:   isOneWay(*flagProtocol),
		addr:     *flagAddr,
	}
}

// areas registers the catalogue's specs for one target, in run order.
var areas = []func(tg *target){
	basicSpecs,
	lifecycleSpecs,
	framingSpecs,
	payloadSpecs,
	concurrencySpecs,
	fileSpecs,
	httpSpecs,
	poetrySpecs,
	datagramSpecs,
	resilienceSpecs,
}

var _ = Describe("conformance", func() {
	// This body runs when RunSpecs builds the tree, after flag parsing,
	// so the flags decide which targets there are.
	var entries []TableEntry
	if external() {
		tg := externalTarget()
		entries = append(entries, Entry(tg.name, tg))
	} else {
		for _, tg := range referenceTargets() {
			entries = append(entries, Entry(tg.name, Label(tg.model, tg.network), tg))
		}
	}
	DescribeTableSubtree("target", func(tg *target) {
		// One server per target, shared by its specs: an Ordered
		// container starts it once, and ContinueOnFailure keeps a
		// failure from skipping the behaviours after it.
		Context("catalogue", Ordered, ContinueOnFailure, func() {
			BeforeAll(func() {
				if tg.external {
					return
				}
				startReference(tg)
			})
			for _, area := range areas {
				area(tg)
			}
		})
	}, entries)
})

// startReference starts tg's reference server in-process and arranges its
// Close.
func startReference(tg *target) {
	cfg := targets.Config{Network: tg.network, Protocol: tg.protocol, Options: tg.opts}
	if tg.protocol == "file" {
		// The root is a directory inside a private one, so that
		// path-traversal can plant a file beside the root without sharing
		// it with the targets and the processes that run beside this one.
		cfg.Options.Root = filepath.Join(GinkgoT().TempDir(), "root")
		if err := os.Mkdir(cfg.Options.Root, 0o755); err != nil {
			Fail(fmt.Sprintf("make the file root: %v", err))
		}
		tg.root = cfg.Options.Root
	}
	srv, err := tg.start(cfg)
	if err != nil {
		Fail(fmt.Sprintf("start %s: %v", tg.name, err))
	}
	DeferCleanup(srv.Close)
	tg.addr = srv.Addrs()[0].String()
}

// behave registers the spec of behaviour id for tg: its text is the
// requirement, its labels the id and the protocol. A behaviour the catalogue
// says is not about tg's protocol or network is skipped with the reason
// against an external server, so its table lists every behaviour; against a
// reference target, whose protocol is known when the tree is built, it is
// not registered at all.
func behave(tg *target, id string, body func()) {
	b := catalog.Get(id)
	if !tg.external && b.NotFor(tg.protocol, tg.kind()) != "" {
		return
	}
	It(b.Requirement, Label(id, tg.protocol), func() {
		if reason := b.NotFor(tg.protocol, tg.kind()); reason != "" {
			Skip(reason)
		}
		body()
	})
}

// tempPath returns a fresh path for a Unix socket, short enough for
// sun_path.
func tempPath(name string) string {
	dir, err := os.MkdirTemp("", "socklab-spec-")
	if err != nil {
		Fail(fmt.Sprintf("make a temporary directory: %v", err))
	}
	DeferCleanup(os.RemoveAll, dir)
	return filepath.Join(dir, strings.ReplaceAll(name, "/", "-"))
}
