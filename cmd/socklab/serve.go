package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run a reference target (a model speaking a protocol)",
		run:     serve,
	})
}

// listenFlag collects repeated --listen addresses.
type listenFlag []string

func (l *listenFlag) String() string { return strings.Join(*l, ",") }

func (l *listenFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty address")
	}
	*l = append(*l, s)
	return nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[--model M] [--protocol P] [--network N] [--listen ADDR]... [flags]",
		"socklab serve --model thread --protocol hello --listen 127.0.0.1:9000\n"+
			"  socklab serve --model pool --protocol ack --framing raw   # the tutorials' own clients\n"+
			"  socklab serve --model pool --workers 5 --protocol poetry --listen 127.0.0.1:0 --listen 127.0.0.1:0 --listen 127.0.0.1:0\n"+
			"  socklab serve --model udp --protocol echo",
		stderr)
	model := fs.String("model", "goroutine", "concurrency model ("+strings.Join(registry.Names(), ", ")+")")
	proto := fs.String("protocol", "echo", "protocol ("+strings.Join(protocol.Names(), ", ")+")")
	network := fs.String("network", "", "network: tcp, unix, udp or unixgram (default: the model's first, tcp for stream models)")
	var listen listenFlag
	fs.Var(&listen, "listen", "address to listen on, repeatable (default 127.0.0.1:0, or a temporary path for unix networks)")
	root := fs.String("root", "", "file protocol: the directory names are confined to (default: a fresh temporary directory)")
	workers := fs.Int("workers", 0, "pool models: worker count (0: the model's default, 5 for pool; see socklab models for each model's most)")
	maxConns := fs.Int("max-conns", 0, "thread and fork: cap on concurrent connections (0: the model's default; thread: at most 9000, fork: at most 1024)")
	ackReply := fs.String("ack-reply", "", "ack protocol: the answer ({msg} quotes the message; default "+fmt.Sprintf("%q", protocol.AckReply)+")")
	banner := fs.String("banner", "", "banner protocol: the message (default "+fmt.Sprintf("%q", protocol.DefaultBanner)+")")
	poem := fs.String("poem", "", "poetry protocol: a file whose lines are the poem (default: the built-in poem)")
	lineDelay := fs.Duration("line-delay", 0, "poetry protocol: pause between lines (0: "+protocol.DefaultLineDelay.String()+")")
	maxLine := fs.Int("max-line", 0, fmt.Sprintf("framed protocols: longest message accepted (0: %d)", protocol.DefaultMaxLine))
	requestTimeout := fs.Duration("request-timeout", 0, "stream models: close a connection whose request (a command line, an HTTP head) has not arrived whole this long after its first byte (0: "+targets.DefaultRequestTimeout.String()+")")
	idleTimeout := fs.Duration("idle-timeout", 0, "stream models: close a connection on which no byte moves this long while no request is arriving: a silent client, a stalled upload, a reply not read (0: "+targets.DefaultIdleTimeout.String()+")")
	maxRequests := fs.Int("max-requests", 0, "http protocol: requests answered on one connection, the last with Connection: close, as nginx's keepalive_requests (0: no limit)")
	var framing protocol.Framing
	fs.Var(&framing, "framing", "how messages end: `line|raw` (line: \"\\n\" ends each, the default; raw: the tutorials' dialect, one read is one message and replies carry no terminator)")
	allowRemote := fs.Bool("allow-remote", false, "listen on an address other machines can reach (every interface, \":PORT\", 0.0.0.0, [::], an address that is not loopback); the default is loopback and Unix sockets only")
	verbose := fs.Bool("v", false, "log every connection's end on stderr (default: warnings only)")
	if err := parse(fs, args); err != nil {
		return err
	}

	m, err := registry.Lookup(*model)
	if err != nil {
		return usageError("%v", err)
	}
	p, err := protocol.Lookup(*proto)
	if err != nil {
		return usageError("%v", err)
	}
	if *network == "" {
		*network = m.Networks[0]
	}
	if !m.Serves(*network) {
		return usageError("model %s does not serve network %q (valid: %s)", m.Name, *network, strings.Join(m.Networks, ", "))
	}
	if !p.RunsOver(*network) {
		return usageError("protocol %s cannot be served over %s (valid: %s)", p.Name, *network, strings.Join(protocolsFor(*network), ", "))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"workers", *workers}, {"max-conns", *maxConns}, {"max-line", *maxLine}} {
		if f.v < 0 {
			return usageError("--%s %d: want a positive number, or 0 for the default", f.name, f.v)
		}
	}
	// The model says what it can hold: a cap past the threads Go allows,
	// a million workers, are refused here, not found out at run time.
	if err := m.Check(targets.Config{Network: *network, Listen: listen, Workers: *workers, MaxConns: *maxConns}); err != nil {
		return usageError("%v", err)
	}
	for _, a := range listen {
		if err := loadgen.CheckListen(*network, a, *allowRemote); err != nil {
			return usageError("--listen %s: %v", a, err)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
		eg   string
	}{{"line-delay", *lineDelay, "500ms"}, {"request-timeout", *requestTimeout, "10s"}, {"idle-timeout", *idleTimeout, "1m"}} {
		if f.v < 0 {
			return usageError("--%s %s: want a positive duration such as %s", f.name, f.v, f.eg)
		}
	}

	if framing == protocol.Auto {
		return usageError("--framing auto: a server does not probe; want line or raw")
	}
	opts := protocol.Options{Framing: framing, AckReply: *ackReply, MaxLine: *maxLine, MaxRequests: *maxRequests, Banner: *banner, LineDelay: *lineDelay, Root: *root}
	if *poem != "" {
		text, err := os.ReadFile(*poem)
		if err != nil {
			return usageError("--poem: %v", err)
		}
		opts.Poem = strings.Split(strings.TrimRight(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n"), "\n")
	}
	tempRoot := p.Name == "file" && opts.Root == ""
	if tempRoot {
		dir, err := os.MkdirTemp("", "socklab-root-")
		if err != nil {
			return fmt.Errorf("file root: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.Root = dir
	}
	// The protocol checks its own options; a refusal is bad input.
	if _, err := p.New(opts); err != nil {
		return usageError("protocol %s: %v", p.Name, err)
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := targets.Config{
		Network:        *network,
		Listen:         listen,
		Protocol:       p.Name,
		Options:        opts,
		Workers:        *workers,
		MaxConns:       *maxConns,
		RequestTimeout: *requestTimeout,
		IdleTimeout:    *idleTimeout,
		Log:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("model", m.Name),
	}

	// Listen for the signals before announcing readiness, so that a
	// SIGTERM sent as soon as the "listening on" line is read is a
	// graceful shutdown, not the default death.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

	srv, err := m.Start(cfg)
	if err != nil {
		if errors.Is(err, targets.ErrUnsupported) || errors.Is(err, targets.ErrLimit) {
			return usageError("%v", err)
		}
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	for _, a := range srv.Addrs() {
		if _, err := fmt.Fprintf(stdout, "listening on %s %s\n", *network, a); err != nil {
			srv.Close()
			return fmt.Errorf("announce: %w", err)
		}
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync() // a pipe has nothing to sync; a file may
	}
	if tempRoot {
		cfg.Log.Warn("file protocol root is a temporary directory", "root", opts.Root)
	}
	s := <-sig
	cfg.Log.Debug("shutting down", "signal", s.String())
	start := time.Now()
	err = srv.Close()
	cfg.Log.Debug("closed", "took", time.Since(start))
	if err != nil {
		return fmt.Errorf("close %s: %w", m.Name, err)
	}
	return nil
}

// protocolsFor returns the protocols that can be served over network.
func protocolsFor(network string) []string {
	var names []string
	for _, p := range protocol.All() {
		if p.RunsOver(network) {
			names = append(names, p.Name)
		}
	}
	return names
}
