// Package probe finds the dialect of a stream server that socklab did not
// start: does it speak socklab's line framing, or the tutorials' raw framing
// (one send is one message, no terminator)? The load generator and the
// conformance suite call it once before a run when the framing is auto, say
// what was found, and use it, so that a user can point socklab at a
// tutorial's server without knowing the word "framing".
//
// The probe looks at the server's first answer on one connection of its own:
//
//   - a protocol with a greeting (hello) or with one server stream (banner,
//     poetry) answers unasked: its first message ends in "\n" under line
//     framing and has none under raw;
//   - a request protocol (ack, file) is sent its first request without a
//     terminator; a raw server answers it, a line server waits for the rest
//     of the line, which the probe then sends, and answers with a "\n";
//   - http: the probe sends a keep-alive GET. An HTTP/1.1 server answers with
//     a status line and keeps the connection open; the tutorials' one-shot
//     server (seed 000) answers one read, with a bare body or (socklab's raw
//     http) with Connection: close, and closes.
//
// Echo needs no framing and is not probed.
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/socklab/socklab/protocol"
)

// Config says what to probe.
type Config struct {
	// Network and Addr are the server's.
	Network, Addr string
	// Protocol is the protocol's name.
	Protocol string
	// Client configures the protocol's client (a hello name, a file name);
	// its Framing is ignored.
	Client protocol.ClientOptions
	// Timeout bounds the whole probe (default 5s).
	Timeout time.Duration
	// Settle is how long the server must stay quiet before an answer
	// without a newline is taken as complete, and how long a request
	// without its terminator waits for a raw server's answer before the
	// terminator is sent (default 300ms).
	Settle time.Duration
}

// Result is what the probe found.
type Result struct {
	Framing protocol.Framing
	// Evidence says why, for the user: what the server sent.
	Evidence string
}

// ErrUndecided is returned when the server's behaviour fits neither framing
// (it answered nothing, or closed at once); Result then holds line framing,
// socklab's default, and the reason.
var ErrUndecided = errors.New("framing undecided")

// maxAnswer bounds what the probe reads.
const maxAnswer = 64 << 10

// Framing probes the server described by cfg.
func Framing(ctx context.Context, cfg Config) (Result, error) {
	p, err := protocol.Lookup(cfg.Protocol)
	if err != nil {
		return Result{}, err
	}
	if !p.Framed {
		return Result{Framing: protocol.Line, Evidence: p.Name + " needs no framing"}, nil
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 300 * time.Millisecond
	}
	co := cfg.Client
	co.Framing = protocol.Raw
	if p.Name == "http" {
		co.Framing = protocol.Line // the keep-alive request
	}
	if p.Name == "file" && co.Name == "" {
		co.Name = "socklab-probe"
	}
	raw, err := p.NewClient(co)
	if err != nil {
		return Result{}, fmt.Errorf("probe: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return Result{}, fmt.Errorf("probe: %w", err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	pr := &prober{c: c, deadline: deadline, settle: cfg.Settle}

	if g := raw.Greeting(); g != nil {
		return pr.judge("its greeting")
	}
	req, _ := raw.Next(nil, 0)
	if len(req) == 0 {
		return pr.judge("its stream")
	}
	if _, err := c.Write(req); err != nil {
		return Result{}, fmt.Errorf("probe: send %q: %w", req, err)
	}
	if p.Name == "http" {
		return pr.judgeHTTP()
	}
	what := fmt.Sprintf("the answer to %q", req)
	if pr.await(time.Now().Add(cfg.Settle)) {
		return pr.judge(what + " (sent without a newline)")
	}
	// No answer yet: a line server waits for the end of the line.
	if _, err := c.Write(protocol.Line.AppendEnd(nil)); err != nil {
		return Result{}, fmt.Errorf("probe: send the newline: %w", err)
	}
	return pr.judge(what)
}

// prober reads a server's first answer.
type prober struct {
	c        net.Conn
	deadline time.Time
	settle   time.Duration
	got      []byte
	eof      bool
	err      error
}

// read reads once before t; it reports whether bytes arrived.
func (p *prober) read(t time.Time) bool {
	if p.eof || p.err != nil || len(p.got) >= maxAnswer {
		return false
	}
	if t.After(p.deadline) {
		t = p.deadline
	}
	_ = p.c.SetReadDeadline(t)
	buf := make([]byte, 4096)
	n, err := p.c.Read(buf)
	p.got = append(p.got, buf[:n]...)
	switch {
	case errors.Is(err, io.EOF):
		p.eof = true
	case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
		p.err = err
	}
	return n > 0
}

// await waits until t for the first bytes; it reports whether any came.
func (p *prober) await(t time.Time) bool {
	for len(p.got) == 0 && !p.eof && p.err == nil && time.Now().Before(t) {
		p.read(t)
	}
	return len(p.got) > 0
}

// answer reads the first answer: until a newline, EOF, or quiet for settle
// after the first bytes.
func (p *prober) answer() {
	if !p.await(p.deadline) {
		return
	}
	for bytes.IndexByte(p.got, '\n') < 0 && p.read(time.Now().Add(p.settle)) {
	}
}

// judge decides by whether the first answer ends its message with "\n".
func (p *prober) judge(what string) (Result, error) {
	p.answer()
	switch {
	case bytes.IndexByte(p.got, '\n') >= 0:
		return Result{Framing: protocol.Line, Evidence: fmt.Sprintf("%s ends in a newline: %s", what, quote(p.got))}, nil
	case len(p.got) > 0:
		return Result{Framing: protocol.Raw, Evidence: fmt.Sprintf("%s has no newline: %s", what, quote(p.got))}, nil
	}
	return p.undecided(what)
}

// judgeHTTP decides by whether the answer to a keep-alive GET is an HTTP
// response that leaves the connection open.
func (p *prober) judgeHTTP() (Result, error) {
	if !p.await(p.deadline) {
		return p.undecided("the answer to a GET")
	}
	// Read the whole answer: until the server closes or stays quiet.
	for p.read(time.Now().Add(p.settle)) {
	}
	head, _, _ := bytes.Cut(p.got, []byte("\r\n\r\n"))
	switch {
	case !bytes.HasPrefix(p.got, []byte("HTTP/")):
		return Result{Framing: protocol.Raw, Evidence: "the answer to a GET has no status line: " + quote(p.got)}, nil
	case p.eof || bytes.Contains(bytes.ToLower(head), []byte("\r\nconnection: close")):
		return Result{Framing: protocol.Raw, Evidence: "the server answers a keep-alive GET once and closes: " + quote(p.got)}, nil
	}
	return Result{Framing: protocol.Line, Evidence: "the answer to a GET is an HTTP/1.1 response on a connection kept open: " + quote(p.got)}, nil
}

func (p *prober) undecided(what string) (Result, error) {
	why := "nothing came before the probe's timeout"
	switch {
	case p.err != nil:
		why = "the connection failed: " + p.err.Error()
	case p.eof:
		why = "the server closed without a byte"
	}
	return Result{Framing: protocol.Line, Evidence: fmt.Sprintf("%s: %s", what, why)},
		fmt.Errorf("%w: %s: %s", ErrUndecided, what, why)
}

// quote shortens and quotes an answer for a message.
func quote(b []byte) string {
	const max = 48
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// Decision is the framing to speak to a server and how it was decided.
type Decision struct {
	Framing protocol.Framing
	// Unframed says the protocol or the network has no framing at all
	// (echo is a byte stream, a datagram is a message).
	Unframed bool
	// Detected is the probe's evidence when the probe decided.
	Detected string
	// How says, for the user, how the framing was decided: "no framing:
	// …", "given with --framing", "detected: …", "undecided: …" or "not
	// probed: …" (the last two leave line framing, socklab's default).
	How string
}

// Resolve decides the framing of cfg's server: given, unless it is Auto,
// in which case the server is probed once. The load generator, the bench
// and the conformance suite decide it here, and only say it their way.
func Resolve(ctx context.Context, cfg Config, given protocol.Framing) (Decision, error) {
	p, err := protocol.Lookup(cfg.Protocol)
	if err != nil {
		return Decision{}, err
	}
	switch {
	case protocol.IsDatagram(cfg.Network):
		return Decision{Framing: protocol.Line, Unframed: true, How: "no framing: a datagram is a message"}, nil
	case !p.Framed:
		return Decision{Framing: protocol.Line, Unframed: true, How: "no framing: " + p.Name + " is a byte stream"}, nil
	case given != protocol.Auto:
		return Decision{Framing: given, How: "given with --framing"}, nil
	}
	res, err := Framing(ctx, cfg)
	switch {
	case errors.Is(err, ErrUndecided):
		return Decision{Framing: protocol.Line, How: "undecided: " + res.Evidence}, nil
	case err != nil:
		return Decision{Framing: protocol.Line, How: "not probed: " + err.Error()}, nil
	}
	return Decision{Framing: res.Framing, Detected: res.Evidence, How: "detected: " + res.Evidence}, nil
}
