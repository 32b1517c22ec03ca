// Package specs_test is socklab's conformance suite in Ginkgo: the behaviour
// catalogue of package specs/catalog, one spec per behaviour, run against
// every reference target of targets/registry (model × protocol × network)
// or, given --addr, against one external server in any language. It is a
// thin front end: the behaviours themselves, their flags and their
// end-of-run table are the catalogue's, which socklab check runs too.
//
//	go tool ginkgo ./specs
//	go tool ginkgo ./specs -- --addr 127.0.0.1:9999 --protocol hello [--framing line|raw|auto]
//
// Each spec carries its behaviour id and its protocol as Ginkgo labels, so
// --label-filter=close-on-eof runs one behaviour alone; a reference target
// carries its model, network and framing (--label-filter=raw runs the
// targets that speak the tutorials' raw dialect).
//
// Against an external server the framing is auto by default: before the
// specs run, the suite probes the server's dialect once (package probe) and
// says on the first line of its output which it found and why.
package specs_test

import (
	"flag"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/catalog"
)

// ext are the external-mode flags, given after -- on the ginkgo command
// line; the same as socklab check's.
var ext catalog.Flags

func init() { ext.Register(flag.CommandLine) }

func TestSpecs(t *testing.T) {
	if external() {
		if err := ext.Validate(); err != nil {
			t.Fatalf("specs: %v", err)
		}
		if sc, _ := GinkgoConfiguration(); sc.ParallelProcess <= 1 {
			// Process 1 decides; SynchronizedBeforeSuite hands the
			// framing to the other processes of a parallel run, so the
			// server is probed once.
			extDecision = ext.Resolve(os.Stdout)
			// Nothing to judge if nothing answers, or if the target's
			// set-up fails: one error, not a failure per behaviour (as
			// socklab check). The set-up is idempotent: each process's
			// BeforeAll does it again for its own Target.
			tg := ext.Target(extDecision.Framing)
			if err := tg.Reach(); err != nil {
				t.Fatalf("specs: cannot reach the server: %v", err)
			}
			if err := tg.Setup(); err != nil {
				t.Fatalf("specs: %v", err)
			}
			tg.Close()
		}
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "socklab conformance")
}

// extDecision is the external server's framing and how it was decided.
var extDecision probe.Decision

var _ = SynchronizedBeforeSuite(func() []byte {
	return []byte(extDecision.Framing.String())
}, func(b []byte) {
	f, err := protocol.ParseFraming(string(b))
	Expect(err).NotTo(HaveOccurred())
	extDecision.Framing = f
})

// external reports whether the run is against one external server.
func external() bool { return ext.Addr != "" }

func TestMain(m *testing.M) {
	forkChild()
	os.Exit(m.Run())
}
