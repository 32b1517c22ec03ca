package catalog

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
)

// Flags are the options of a run against one external server, the same for
// both front ends: the Ginkgo suite takes them after --, socklab check
// takes them directly.
type Flags struct {
	Addr           string
	Protocol       string
	Network        string
	Framing        string
	MaxConcurrency int
	Timeout        time.Duration
	AckReply       string
	Root           string
	AllowRemote    bool
	Strict         bool
	PID            int
}

// Register defines the flags on fs, with their defaults and help.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "addr", "", "the server to check: HOST:PORT, or a socket path for unix and unixgram")
	fs.StringVar(&f.Protocol, "protocol", "", "the server's protocol: "+strings.Join(protocol.Names(), ", "))
	fs.StringVar(&f.Network, "network", "tcp", "the server's network: tcp, udp, unix or unixgram")
	fs.StringVar(&f.Framing, "framing", "auto", "the server's framing: line (messages end in \\n), raw (one send is one message, the tutorials' servers; line-framing behaviours are skipped), or auto: probe the server once and say which")
	fs.IntVar(&f.MaxConcurrency, "max-concurrency", 0, "the number of clients the server serves at once (0: no declared limit)")
	fs.DurationVar(&f.Timeout, "timeout", 2*time.Second, "per-step wait for a reply or a close")
	fs.StringVar(&f.AckReply, "ack-reply", "", "ack protocol: the server's answer, {msg} quoting the message (default \""+protocol.AckReply+"\")")
	fs.StringVar(&f.Root, "root", "", "file protocol: the server's root directory, to check the files on disk too")
	fs.BoolVar(&f.AllowRemote, "allow-remote", false, "allow an --addr that is not loopback: the checks reset connections and flood servers")
	fs.IntVar(&f.PID, "pid", 0, "the server's process id, to bound its memory (RSS) while clients do not read their replies (slow-reader; Linux)")
	fs.BoolVar(&f.Strict, "strict", false, "fail a behaviour on a missed should-level check too (by default it passes non-strictly, with the reason)")
}

// Validate checks the flags, --addr included: each error names its flag.
func (f *Flags) Validate() error {
	if f.Addr == "" {
		return errors.New("--addr: the server to check is missing (HOST:PORT, or a socket path)")
	}
	if f.Protocol == "" {
		return fmt.Errorf("--protocol: missing; want one of %s", strings.Join(protocol.Names(), ", "))
	}
	p, err := protocol.Lookup(f.Protocol)
	if err != nil {
		return fmt.Errorf("--protocol: %w", err)
	}
	switch f.Network {
	case "tcp", "udp", "unix", "unixgram":
	default:
		return fmt.Errorf("--network %q: want tcp, udp, unix or unixgram", f.Network)
	}
	if !p.RunsOver(f.Network) {
		return fmt.Errorf("--protocol %s does not run over --network %s", p.Name, f.Network)
	}
	if _, err := protocol.ParseFraming(f.Framing); err != nil {
		return fmt.Errorf("--framing: %w", err)
	}
	if _, err := p.New(protocol.Options{AckReply: f.AckReply, Root: os.TempDir()}); err != nil {
		return fmt.Errorf("--ack-reply: %w", err)
	}
	if f.MaxConcurrency < 0 {
		return fmt.Errorf("--max-concurrency %d: want 0 (no limit) or more", f.MaxConcurrency)
	}
	if f.PID < 0 {
		return fmt.Errorf("--pid %d: want the server's process id", f.PID)
	}
	if f.PID > 0 {
		if _, err := rss(f.PID); err != nil {
			return fmt.Errorf("--pid %d: %w", f.PID, err)
		}
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration such as 2s", f.Timeout)
	}
	// The checks send resets, floods and oversized lines, which must
	// never reach a server by accident: loadgen's one loopback check.
	if err := loadgen.CheckTarget(f.Network, f.Addr, f.AllowRemote); err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	return nil
}

// Resolve decides the server's framing from --framing (package probe,
// probing the server once when it is auto) and prints the outcome on w, the
// first line of a run's output. The flags must be valid.
func (f *Flags) Resolve(w io.Writer) probe.Decision {
	given, _ := protocol.ParseFraming(f.Framing)
	// The probe's wait is the run's: twice the per-step timeout covers
	// its settle and the answer it waits for.
	d, _ := probe.Resolve(context.Background(), probe.Config{
		Network:  f.Network,
		Addr:     f.Addr,
		Protocol: f.Protocol,
		Timeout:  2 * f.Timeout,
	}, given)
	switch {
	case d.Unframed && given == protocol.Raw:
		fmt.Fprintf(w, "socklab conformance: %s; --framing raw has no effect\n", d.How)
	case !d.Unframed:
		fmt.Fprintf(w, "socklab conformance: framing %s (%s)\n", d.Framing, d.How)
	}
	return d
}

// Target is the server the flags name, in framing fr (see Resolve).
func (f *Flags) Target(fr protocol.Framing) *Target {
	return &Target{
		Name:     fmt.Sprintf("%s %s at %s", f.Protocol, f.Network, f.Addr),
		Network:  f.Network,
		Addr:     f.Addr,
		Protocol: f.Protocol,
		Capacity: f.MaxConcurrency,
		Timeout:  f.Timeout,
		Root:     f.Root,
		Options:  protocol.Options{AckReply: f.AckReply, Framing: fr},
		External: true,
		Strict:   f.Strict,
		PID:      f.PID,
	}
}

// Headline is the first line of the end-of-run table: the server, its
// framing and how it was decided.
func (f *Flags) Headline(d probe.Decision) string {
	fr := d.How
	if !d.Unframed {
		fr = fmt.Sprintf("framing %s, %s", d.Framing, oneLine(d.How))
	}
	return fmt.Sprintf("socklab conformance: %s %s at %s (%s)", f.Protocol, f.Network, f.Addr, fr)
}
