package specs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	refTimeout = 2 * time.Second
	// refForkTimeout is the fork model's: it starts a process for every
	// connection, up to 200 ms each in a -race binary on a busy machine,
	// so 32 clients that connect at once can need more than refTimeout.
	refForkTimeout = 6 * time.Second
	refLineDelay   = 15 * time.Millisecond
)

// target is one server the catalogue runs against. Everything but addr is
// known when the spec tree is built; addr is set when the server is up.
type target struct {
	name     string
	model    string // "" for an external server
	network  string
	protocol string
	capacity int // 0: no declared limit
	timeout  time.Duration
	root     string // file protocol root, "" if unknown
	// opts are the server's options as its clients must know them; its
	// Framing is the one framing of the target's specs: every protocol
	// client gets it (newProtocolClient), and the specs that write or read
	// messages themselves take it from here. An external target's is set
	// when its specs start (see extFraming).
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
	if protocol.IsDatagram(tg.network) {
		return catalog.Datagram
	}
	return catalog.Stream
}

// framing is the target's framing.
func (tg *target) framing() protocol.Framing { return tg.opts.Framing }

// raw reports whether the target speaks the tutorials' raw dialect: one
// send is one message, no terminator, lock-step.
func (tg *target) raw() bool { return tg.opts.Framing == protocol.Raw }

// closesAfterReply reports whether the server answers one request per
// connection and closes: the tutorials' HTTP dialect under raw framing
// (Connection: close; protocol/http.go's rawHTTPSession).
func (tg *target) closesAfterReply() bool { return tg.raw() && tg.protocol == "http" }

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

// rawModels are the models whose targets also serve every framed stream
// protocol in raw framing (over TCP): a goroutine per connection and a
// reactor, so that every run proves the suite judges a raw server in the
// tutorials' dialect, at a small cost. Framing is protocol code, which every
// model drives alike, so more models would add time, not coverage.
var rawModels = []string{"goroutine", "epoll"}

// referenceTargets is every model × network × protocol of the registry in
// line framing, and the raw-framing targets of rawModels, named
// MODEL/PROTOCOL/NETWORK/raw.
func referenceTargets() []*target {
	var tgs []*target
	for _, m := range registry.Models() {
		for _, n := range m.Networks {
			for _, p := range protocol.All() {
				if !p.RunsOver(n) {
					continue
				}
				tgs = append(tgs, referenceTarget(m, p, n, protocol.Line))
				if n == targets.TCP && p.Framed && slices.Contains(rawModels, m.Name) {
					tgs = append(tgs, referenceTarget(m, p, n, protocol.Raw))
				}
			}
		}
	}
	return tgs
}

// referenceTarget is model m serving protocol p over network n in framing f.
func referenceTarget(m targets.Model, p protocol.Protocol, n string, f protocol.Framing) *target {
	name := fmt.Sprintf("%s/%s/%s", m.Name, p.Name, n)
	if f != protocol.Line {
		name += "/" + f.String()
	}
	timeout := refTimeout
	if m.Name == "fork" {
		timeout = refForkTimeout
	}
	return &target{
		name:     name,
		model:    m.Name,
		network:  n,
		protocol: p.Name,
		capacity: m.Capacity(targets.Config{Network: n, Protocol: p.Name}),
		timeout:  timeout,
		opts:     protocol.Options{Framing: f, LineDelay: refLineDelay},
		oneWay:   isOneWay(p.Name),
		start:    m.Start,
	}
}

// externalTarget is the server given by the flags.
func externalTarget() *target {
	return &target{
		name:     fmt.Sprintf("%s %s at %s", *flagProtocol, *flagNetwork, *flagAddr),
		network:  *flagNetwork,
		protocol: *flagProtocol,
		capacity: *flagMaxConc,
		timeout:  *flagTimeout,
		root:     *flagRoot,
		opts:     protocol.Options{AckReply: *flagAckReply},
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
			entries = append(entries, Entry(tg.name, Label(tg.model, tg.network, tg.framing().String()), tg))
		}
	}
	DescribeTableSubtree("target", func(tg *target) {
		// One server per target, shared by its specs: an Ordered
		// container starts it once, and ContinueOnFailure keeps a
		// failure from skipping the behaviours after it.
		Context("catalogue", Ordered, ContinueOnFailure, func() {
			BeforeAll(func() {
				if tg.external {
					tg.opts.Framing = extFraming
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
