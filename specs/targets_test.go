package specs_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	refTimeout = 2 * time.Second
	// refForkTimeout is the fork model's: it starts a process for every
	// connection, up to 200 ms each in a -race binary on a busy machine,
	// so 32 clients that connect at once can need more than refTimeout.
	refForkTimeout = 6 * time.Second
	refLineDelay   = 15 * time.Millisecond
	// refForkLineDelay is the fork model's poem line delay: three clients
	// that connect at once start three processes, one after another, and
	// stream-concurrent needs every poem to start before the first ends.
	// At refLineDelay a poem lasts 60 ms, less than a process start in a
	// -race binary on a loaded machine.
	refForkLineDelay = 250 * time.Millisecond
)

// rawModels are the models whose targets also serve every framed stream
// protocol in raw framing (over TCP): a goroutine per connection and a
// reactor, so that every run proves the suite judges a raw server in the
// tutorials' dialect, at a small cost. Framing is protocol code, which every
// model drives alike, so more models would add time, not coverage.
var rawModels = []string{"goroutine", "epoll"}

// ipv6Models are the models whose echo target also runs over IPv6, named
// MODEL/echo/tcp/ipv6 and listening on [::1]:0 alone: one per way of making
// a listener (net.Listen for the goroutine, iterative, pool and fork models,
// raw sockets for thread, the reactor's sockets, SO_REUSEPORT), since the
// address family is the listener's business and the protocols' only through
// it.
var ipv6Models = []string{"goroutine", "thread", "epoll", "reuseport"}

// referenceTargets is every model × network × protocol of the registry in
// line framing, the raw-framing targets of rawModels, named
// MODEL/PROTOCOL/NETWORK/raw, and the IPv6 targets of ipv6Models.
func referenceTargets() []*catalog.Target {
	var tgs []*catalog.Target
	for _, m := range registry.Models() {
		for _, n := range m.Networks {
			for _, p := range protocol.All() {
				if !p.RunsOver(n) {
					continue
				}
				tgs = append(tgs, referenceTarget(m, p, n, protocol.Line))
				if n == targets.TCP && p.Name == "http" && m.Name == "goroutine" {
					// A correct server that ends a keep-alive connection
					// every two requests with Connection: close, as nginx
					// does after keepalive_requests: no behaviour may
					// fail it for that.
					tg := referenceTarget(m, p, n, protocol.Line)
					tg.Name += "/max-requests-2"
					tg.Options.MaxRequests = 2
					tgs = append(tgs, tg)
				}
				if n == targets.TCP && p.Framed && slices.Contains(rawModels, m.Name) {
					tgs = append(tgs, referenceTarget(m, p, n, protocol.Raw))
				}
				if n == targets.TCP && p.Name == "echo" && slices.Contains(ipv6Models, m.Name) {
					tg := referenceTarget(m, p, n, protocol.Line)
					tg.Name += "/ipv6"
					tg.Addr = ipv6Listen // startReference listens there
					tgs = append(tgs, tg)
				}
			}
		}
	}
	return tgs
}

// referenceTarget is model m serving protocol p over network n in framing f.
func referenceTarget(m targets.Model, p protocol.Protocol, n string, f protocol.Framing) *catalog.Target {
	name := fmt.Sprintf("%s/%s/%s", m.Name, p.Name, n)
	if f != protocol.Line {
		name += "/" + f.String()
	}
	timeout, delay := refTimeout, refLineDelay
	if m.Name == "fork" {
		timeout, delay = refForkTimeout, refForkLineDelay
	}
	return &catalog.Target{
		Name:     name,
		Model:    m.Name,
		Network:  n,
		Protocol: p.Name,
		Capacity: m.Capacity(targets.Config{Network: n, Protocol: p.Name}),
		Timeout:  timeout,
		Options:  protocol.Options{Framing: f, LineDelay: delay},
	}
}

var _ = Describe("conformance", func() {
	// This body runs when RunSpecs builds the tree, after flag parsing,
	// so the flags decide which targets there are.
	var entries []TableEntry
	if external() {
		tg := ext.Target(protocol.Line) // the framing is set in BeforeAll
		entries = append(entries, Entry(tg.Name, tg))
	} else {
		for _, tg := range referenceTargets() {
			entries = append(entries, Entry(tg.Name, Label(tg.Model, tg.Network, tg.Options.Framing.String()), tg))
		}
	}
	DescribeTableSubtree("target", func(tg *catalog.Target) {
		// One server per target, shared by its specs: an Ordered
		// container starts it once, and ContinueOnFailure keeps a
		// failure from skipping the behaviours after it.
		Context("catalogue", Ordered, ContinueOnFailure, func() {
			BeforeAll(func() {
				DeferCleanup(tg.Close)
				if tg.External {
					tg.Options.Framing = extDecision.Framing
				} else {
					startReference(tg)
				}
				// The target's set-up (the file fixtures) fails here, in
				// this node, not in the first behaviour: Ginkgo then
				// skips the target's behaviours.
				if err := tg.Setup(); err != nil {
					Fail(err.Error())
				}
			})
			for _, b := range catalog.All() {
				// A behaviour the catalogue says is not about tg's
				// protocol or network is not registered for a reference
				// target; against an external server it is skipped with
				// the reason (Behaviour.Run), so its table lists every
				// behaviour.
				if !tg.External && b.NotFor(tg.Protocol, tg.Kind()) != "" {
					continue
				}
				It(b.Requirement, Label(b.ID, tg.Protocol), func() {
					b.Run(ginkgoT{GinkgoT()}, tg)
				})
			}
		})
	}, entries)
})

// ginkgoT is the catalogue's T in a spec: GinkgoT, with notes as report
// entries.
type ginkgoT struct{ FullGinkgoTInterface }

func (ginkgoT) Note(name, value string) { AddReportEntry(name, value) }

// ipv6Listen is the address of the IPv6 targets.
const ipv6Listen = "[::1]:0"

// startReference starts tg's reference server in-process and arranges its
// Close.
func startReference(tg *catalog.Target) {
	m, err := registry.Lookup(tg.Model)
	if err != nil {
		Fail(err.Error())
	}
	cfg := targets.Config{Network: tg.Network, Protocol: tg.Protocol, Options: tg.Options}
	if tg.Addr == ipv6Listen {
		cfg.Listen = []string{ipv6Listen}
		if l, err := net.Listen(tg.Network, ipv6Listen); err != nil {
			Skip(fmt.Sprintf("this machine has no IPv6 loopback: %v", err))
		} else {
			l.Close()
		}
	}
	if tg.Protocol == "file" {
		// The root is a directory inside a private one, so that
		// path-traversal can plant a file beside the root without sharing
		// it with the targets and the processes that run beside this one.
		cfg.Options.Root = filepath.Join(GinkgoT().TempDir(), "root")
		if err := os.Mkdir(cfg.Options.Root, 0o755); err != nil {
			Fail(fmt.Sprintf("make the file root: %v", err))
		}
		tg.Root = cfg.Options.Root
	}
	srv, err := m.Start(cfg)
	if err != nil {
		Fail(fmt.Sprintf("start %s: %v", tg.Name, err))
	}
	DeferCleanup(srv.Close)
	tg.Addr = srv.Addrs()[0].String()
}
