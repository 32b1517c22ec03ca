// Package specs_test is socklab's conformance suite: the behaviour catalogue
// of package specs/catalog, one spec per behaviour, run against every
// reference target of targets/registry (model × protocol × network) or,
// given --addr, against one external server in any language.
//
//	go tool ginkgo ./specs
//	go tool ginkgo ./specs -- --addr 127.0.0.1:9999 --protocol hello --framing raw
//
// Each spec carries its behaviour id and its protocol as Ginkgo labels, so
// --label-filter=close-on-eof runs one behaviour alone.
package specs_test

import (
	"flag"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// External-mode flags, given after -- on the ginkgo command line.
var (
	flagAddr        = flag.String("addr", "", "run the catalogue against the server at HOST:PORT (or a socket path for unix/unixgram) instead of the reference targets")
	flagProtocol    = flag.String("protocol", "", "the external server's protocol: "+fmt.Sprint(protocol.Names()))
	flagNetwork     = flag.String("network", targets.TCP, "the external server's network: tcp, udp, unix or unixgram")
	flagFraming     = flag.String("framing", "line", "line, or raw: one send is one message (the tutorials' servers); line-framing behaviours are skipped")
	flagMaxConc     = flag.Int("max-concurrency", 0, "the number of clients the external server serves at once (0: no declared limit)")
	flagTimeout     = flag.Duration("timeout", 2*time.Second, "per-step wait for a reply or a close")
	flagRoot        = flag.String("root", "", "file protocol: the external server's root directory, to check the files on disk too")
	flagAllowRemote = flag.Bool("allow-remote", false, "allow an --addr that is not loopback: the suite resets connections and floods servers")
)

func TestSpecs(t *testing.T) {
	if err := checkFlags(); err != nil {
		t.Fatalf("specs: %v", err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "socklab conformance")
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
	if *flagFraming != "line" && *flagFraming != "raw" {
		return fmt.Errorf("--framing %q: want line or raw", *flagFraming)
	}
	if *flagMaxConc < 0 {
		return fmt.Errorf("--max-concurrency %d: want 0 (no limit) or more", *flagMaxConc)
	}
	if *flagTimeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration such as 2s", *flagTimeout)
	}
	if targets.IsUnix(*flagNetwork) || *flagAllowRemote {
		return nil
	}
	return checkLoopback(*flagAddr)
}

// checkLoopback refuses an address that is not on this machine: the suite
// sends resets, floods and oversized lines, which must never reach a server
// by accident.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT: %w", addr, err)
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("--addr %q: resolve %s: %w", addr, host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("--addr %q: %s is not a loopback address; pass --allow-remote to test a server on another machine", addr, ip)
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	forkChild()
	os.Exit(m.Run())
}
