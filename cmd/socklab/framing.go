package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
)

// framingUsage is the help of every --framing flag that may probe.
const framingUsage = "how the server's messages end: `line|raw|auto` (line: \"\\n\" ends each; raw: the tutorials' one send, one message, no terminator; auto: probe the server once and say what was found)"

// resolveFraming turns cfg's auto framing into line or raw by probing the
// server once, and says what it found on w, so that the first line a user
// reads names the dialect socklab will speak. A probe that cannot decide
// (the server answered nothing) leaves line framing, says why, and lets the
// run report what the server does.
func resolveFraming(ctx context.Context, cfg *loadgen.Config, w io.Writer) error {
	if cfg.Client.Framing != protocol.Auto {
		return nil
	}
	p, err := protocol.Lookup(cfg.Protocol)
	if err != nil {
		return usageError("--protocol: %v", err)
	}
	if !p.Framed || protocol.IsDatagram(cfg.Network) {
		cfg.Client.Framing = protocol.Line
		return nil
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	res, err := probe.Framing(ctx, probe.Config{
		Network: cfg.Network, Addr: cfg.Addr, Protocol: cfg.Protocol, Client: cfg.Client, Timeout: timeout,
	})
	switch {
	case errors.Is(err, probe.ErrUndecided):
		fmt.Fprintf(w, "framing: line, the default: the probe could not tell (%s); pass --framing to choose\n", res.Evidence)
	case err != nil:
		fmt.Fprintf(w, "framing: line, the default: the probe failed: %v\n", err)
		res.Framing = protocol.Line
	default:
		fmt.Fprintf(w, "framing: %s (detected: %s)\n", res.Framing, res.Evidence)
		cfg.FramingEvidence = res.Evidence
	}
	cfg.Client.Framing = res.Framing
	return nil
}
