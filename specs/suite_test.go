// Package specs_test is socklab's conformance suite: the behaviour catalogue
// of package specs/catalog, one spec per behaviour, run against every
// reference target of targets/registry (model × protocol × network) or,
// given --addr, against one external server in any language.
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
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// External-mode flags, given after -- on the ginkgo command line.
var (
	flagAddr        = flag.String("addr", "", "run the catalogue against the server at HOST:PORT (or a socket path for unix/unixgram) instead of the reference targets")
	flagProtocol    = flag.String("protocol", "", "the external server's protocol: "+fmt.Sprint(protocol.Names()))
	flagNetwork     = flag.String("network", targets.TCP, "the external server's network: tcp, udp, unix or unixgram")
	flagFraming     = flag.String("framing", "auto", "the external server's framing: line (messages end in \\n), raw (one send is one message, the tutorials' servers; line-framing behaviours are skipped), or auto: probe the server once and say which")
	flagMaxConc     = flag.Int("max-concurrency", 0, "the number of clients the external server serves at once (0: no declared limit)")
	flagTimeout     = flag.Duration("timeout", 2*time.Second, "per-step wait for a reply or a close")
	flagAckReply    = flag.String("ack-reply", "", "ack protocol: the external server's answer, {msg} quoting the message (default \""+protocol.AckReply+"\")")
	flagRoot        = flag.String("root", "", "file protocol: the external server's root directory, to check the files on disk too")
	flagAllowRemote = flag.Bool("allow-remote", false, "allow an --addr that is not loopback: the suite resets connections and floods servers")
)

func TestSpecs(t *testing.T) {
	if err := checkFlags(); err != nil {
		t.Fatalf("specs: %v", err)
	}
	if sc, _ := GinkgoConfiguration(); external() && sc.ParallelProcess <= 1 {
		// Process 1 decides; SynchronizedBeforeSuite hands the framing
		// to the other processes of a parallel run, so the server is
		// probed once.
		extFraming = resolveFraming(os.Stdout)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "socklab conformance")
}

// The external server's framing, once resolved; for the end-of-run table,
// whether its protocol has any and how it was decided.
var (
	extFraming  protocol.Framing
	extUnframed bool
	extHow      string
)

var _ = SynchronizedBeforeSuite(func() []byte {
	return []byte(extFraming.String())
}, func(b []byte) {
	f, err := protocol.ParseFraming(string(b))
	Expect(err).NotTo(HaveOccurred())
	extFraming = f
})

// resolveFraming decides the external server's framing from --framing
// (probe.Resolve, probing the server when it is auto) and prints the
// outcome on w: the first line of the run's output.
func resolveFraming(w io.Writer) protocol.Framing {
	given, _ := protocol.ParseFraming(*flagFraming) // checked by checkFlags
	// The probe's wait is the suite's: twice the per-step timeout covers
	// its settle and the answer it waits for.
	d, _ := probe.Resolve(context.Background(), probe.Config{
		Network:  *flagNetwork,
		Addr:     *flagAddr,
		Protocol: *flagProtocol,
		Timeout:  2 * *flagTimeout,
	}, given) // the protocol was checked by checkFlags
	extUnframed, extHow = d.Unframed, d.How
	switch {
	case d.Unframed && given == protocol.Raw:
		fmt.Fprintf(w, "socklab conformance: %s; --framing raw has no effect\n", d.How)
	case !d.Unframed:
		fmt.Fprintf(w, "socklab conformance: framing %s (%s)\n", d.Framing, d.How)
	}
	return d.Framing
}

// external reports whether the run is against one external server.
func external() bool { return *flagAddr != "" }

// checkFlags validates the external-mode flags.
func checkFlags() error {
	if !external() {
		return nil
	}
	p, err := protocol.Lookup(*flagProtocol)
	if err != nil {
		return fmt.Errorf("--protocol: %w", err)
	}
	switch *flagNetwork {
	case targets.TCP, targets.Unix:
		if !p.Stream {
			return fmt.Errorf("--protocol %s is not a stream protocol", p.Name)
		}
	case targets.UDP, targets.Unixgram:
		if !p.Datagram {
			return fmt.Errorf("--protocol %s is not a datagram protocol", p.Name)
		}
	default:
		return fmt.Errorf("--network %q: want tcp, udp, unix or unixgram", *flagNetwork)
	}
	if _, err := protocol.ParseFraming(*flagFraming); err != nil {
		return fmt.Errorf("--framing: %w", err)
	}
	if _, err := p.New(protocol.Options{AckReply: *flagAckReply, Root: os.TempDir()}); err != nil {
		return fmt.Errorf("--ack-reply: %w", err)
	}
	if *flagMaxConc < 0 {
		return fmt.Errorf("--max-concurrency %d: want 0 (no limit) or more", *flagMaxConc)
	}
	if *flagTimeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration such as 2s", *flagTimeout)
	}
	// The suite sends resets, floods and oversized lines, which must
	// never reach a server by accident: loadgen's one loopback check.
	if err := loadgen.CheckTarget(*flagNetwork, *flagAddr, *flagAllowRemote); err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	return nil
}

func TestMain(m *testing.M) {
	forkChild()
	os.Exit(m.Run())
}
