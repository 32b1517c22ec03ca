package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
)

// framingUsage is the help of every --framing flag that may probe.
const framingUsage = "how the server's messages end: `line|raw|auto` (line: \"\\n\" ends each; raw: the tutorials' one send, one message, no terminator; auto: probe the server once and say what was found)"

// resolveFraming turns cfg's auto framing into line or raw (probe.Resolve)
// and, when it probed, says what it found on w, so that the first line a user reads names
// the dialect socklab will speak. A probe that cannot decide (the server
// answered nothing) leaves line framing, says why, and lets the run report
// what the server does. It returns how the framing was decided, or "" for
// a protocol or network without framing.
func resolveFraming(ctx context.Context, cfg *loadgen.Config, w io.Writer) (string, error) {
	given := cfg.Client.Framing
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	d, err := probe.Resolve(ctx, probe.Config{
		Network: cfg.Network, Addr: cfg.Addr, Protocol: cfg.Protocol, Client: cfg.Client, Timeout: timeout,
	}, given)
	if err != nil {
		return "", usageError("--protocol: %v", err)
	}
	cfg.Client.Framing, cfg.FramingEvidence = d.Framing, d.Detected
	if d.Unframed {
		return "", nil
	}
	if given == protocol.Auto {
		fmt.Fprintf(w, "framing: %s (%s)\n", d.Framing, d.How)
	}
	return d.How, nil
}
