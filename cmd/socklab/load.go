package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/reports"
)

func init() {
	register(command{name: "load", summary: "drive a server with load and record its latency", run: runLoad})
}

// loadFlags are the flags shared by load and bench.
type loadFlags struct {
	cfg     loadgen.Config
	addr    string
	jsonOut bool
	out     string
	quiet   bool
}

func (f *loadFlags) define(fs *flag.FlagSet) {
	c := &f.cfg
	fs.StringVar(&f.addr, "addr", "", "target address (host:port or socket path); or give it as the argument")
	fs.StringVar(&c.Network, "network", "tcp", "network: tcp, unix, udp or unixgram")
	fs.StringVar(&c.Protocol, "protocol", "echo", "protocol: "+joinNames(protocol.Names()))
	fs.IntVar(&c.Client.Size, "size", 0, fmt.Sprintf("echo payload size in bytes (default 64; at most %d, 16 MiB, and size x connections x pipeline at most %d, 256 MiB)", loadgen.MaxSize, loadgen.MaxPayloadBytes))
	fs.BoolVar(&c.Client.Text, "text", false, "echo: printable ASCII payloads, for servers that decode their input as text (default: every byte value)")
	fs.StringVar(&c.Client.Name, "name", "", "hello name or file name")
	fs.StringVar(&c.Client.Path, "path", "", "HTTP request path (default /)")
	fs.StringVar(&c.Client.AckReply, "ack-reply", "", "ack: the answer expected ({msg} quotes the message; default "+fmt.Sprintf("%q", protocol.AckReply)+")")
	c.Client.Framing = protocol.Auto
	fs.Var(&c.Client.Framing, "framing", framingUsage)
	fs.IntVar(&c.Connections, "c", 1, "connections")
	fs.IntVar(&c.Pipeline, "pipeline", 1, "requests in flight per connection")
	fs.Float64Var(&c.Rate, "rate", 0, "open loop: requests per second in total (0: closed loop)")
	fs.BoolVar(&c.Reconnect, "reconnect", false, "a new connection per request (short connections)")
	fs.BoolVar(&c.NoReply, "no-reply", false, "the server answers nothing (a receive-only UDP server): a request is done once sent, and a reply is an error")
	fs.DurationVar(&c.Duration, "d", 10*time.Second, "duration of the measured part")
	fs.Int64Var(&c.Requests, "n", 0, "stop after this many requests instead of a duration")
	fs.DurationVar(&c.Warmup, "warmup", 0, "warm-up before measuring, not recorded")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "timeout of each request")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 2*time.Second, "timeout of each connect")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not loopback or a Unix socket")
	fs.StringVar(&c.Tag, "tag", "", "name of the run in its files (no spaces or commas)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	fs.StringVar(&f.out, "out", "", "write latency.hgrm, latency.hlog and summary.json into this directory")
	fs.BoolVar(&f.quiet, "quiet", false, "no live progress line")
	fs.StringVar(&c.Engine, "engine", "", "how connections are driven: epoll (default for tcp and unix on Linux) or goroutine")
	fs.IntVar(&c.Threads, "threads", 0, "epoll engine threads (default: the CPUs the process may use)")
}

// check validates the flags' values with messages that say the form wanted.
func (f *loadFlags) check(fs *flag.FlagSet) error {
	c := &f.cfg
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case c.Connections < 1:
		return usageError("-c wants a positive number of connections, like -c 16")
	case c.Pipeline < 1:
		return usageError("--pipeline wants a positive number, like --pipeline 4")
	case set["rate"] && !(c.Rate > 0 && !math.IsInf(c.Rate, 0)):
		return usageError("--rate wants a positive number, like --rate 500")
	case c.Duration <= 0:
		return usageError("-d wants a positive duration, like -d 10s")
	case c.Requests < 0:
		return usageError("-n wants a positive number, like -n 10000")
	case c.Timeout <= 0 || c.ConnectTimeout <= 0:
		return usageError("--timeout and --connect-timeout want a positive duration, like --timeout 2s")
	case c.Warmup < 0:
		return usageError("--warmup wants a duration, like --warmup 1s")
	case c.Threads < 0:
		return usageError("--threads wants a positive number, like --threads 2")
	case c.Engine != "" && c.Engine != loadgen.EngineEpoll && c.Engine != loadgen.EngineGoroutine:
		return usageError("--engine wants %s or %s", loadgen.EngineEpoll, loadgen.EngineGoroutine)
	case c.Client.Size < 0:
		return usageError("--size wants a positive number of bytes, like --size 4096")
	}
	if err := loadgen.CheckSize(c.Client.Size, c.Connections, c.Pipeline); err != nil {
		return usageError("--size: %v", err)
	}
	if set["n"] && !set["d"] {
		c.Duration = 0
	}
	if protocol.IsDatagram(c.Network) {
		if c.Pipeline > 1 {
			return usageError("--pipeline must be 1 over %s: datagram replies may be reordered", c.Network)
		}
	}
	if _, err := protocol.Lookup(c.Protocol); err != nil {
		return usageError("--protocol: %v", err)
	}
	return nil
}

func joinNames(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func runLoad(args []string, stdout, stderr io.Writer) error {
	var f loadFlags
	fs := newFlagSet("load", "[flags] ADDR",
		"socklab load -c 16 -d 5s --protocol echo --size 4096 --out /tmp/run 127.0.0.1:9000\n  socklab load --rate 2000 -c 8 -d 10s --protocol http 127.0.0.1:8080", stderr)
	f.define(fs)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) > 1:
		return usageError("unexpected argument %q", positional[1])
	case len(positional) == 1 && f.addr != "":
		return usageError("give the address once: as --addr or as the argument")
	case len(positional) == 1:
		f.addr = positional[0]
	case f.addr == "":
		return usageError("no target: give an address, like socklab load 127.0.0.1:9000")
	}
	if err := f.check(fs); err != nil {
		return err
	}
	// The destination is checked before the run, whose results it would
	// otherwise lose.
	if f.out != "" {
		if err := reports.CheckOutDir(f.out); err != nil {
			return usageError("--out: %v", err)
		}
	}
	f.cfg.Addr = f.addr
	if err := loadgen.CheckTarget(f.cfg.Network, f.cfg.Addr, f.cfg.AllowRemote); err != nil {
		return usageError("%v", err)
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("load: cpu profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("load: cpu profile %s: %w", *cpuprofile, err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The framing line goes first; under --json it goes to stderr, so that
	// stdout stays one JSON document.
	note := stdout
	if f.jsonOut {
		note = stderr
	}
	if _, err := resolveFraming(ctx, &f.cfg, note); err != nil {
		return err
	}
	s, err := runOne(ctx, f, stdout)
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return loadgen.WriteText(stdout, s)
}

// runOne runs one load with a live progress line on a terminal and writes
// its files if asked.
func runOne(ctx context.Context, f loadFlags, stdout io.Writer) (loadgen.Summary, error) {
	cfg := f.cfg
	live := !f.quiet && !f.jsonOut && isTerminal(stdout)
	if live {
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stdout, "\r%s", progressLine(p))
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if live {
		fmt.Fprint(stdout, "\r\033[K")
	}
	if err != nil {
		if errors.Is(err, loadgen.ErrConfig) {
			return loadgen.Summary{}, usageError("%v", err)
		}
		return loadgen.Summary{}, err
	}
	if f.out != "" {
		if err := reports.WriteResult(f.out, res); err != nil {
			return loadgen.Summary{}, err
		}
	}
	return res.Summary(), nil
}

func progressLine(p loadgen.Progress) string {
	return fmt.Sprintf("%6.1fs  %9.0f req/s  p99 %-9s  %d requests  %d errors",
		p.Elapsed.Seconds(), p.Rate, loadgen.FormatDuration(float64(p.P99)/1e3), p.Requests, p.Errors)
}

// isTerminal reports whether w is a character device (a terminal), the
// check golang.org/x/term would make, done with os.File.Stat.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
