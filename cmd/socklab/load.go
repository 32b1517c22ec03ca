package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
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
	cfg         loadgen.Config
	addr        string
	jsonOut     bool
	out         string
	quiet       bool
	thresholds  thresholdFlag
	allowErrors bool
	connectRate loadgen.Shape // --connect-rate: the open loop's schedule is of connects
}

// thresholdFlag collects repeated --threshold flags, parsed as they come.
type thresholdFlag []loadgen.Threshold

func (t *thresholdFlag) String() string {
	var ss []string
	for _, th := range *t {
		ss = append(ss, th.Expr)
	}
	return strings.Join(ss, " ")
}

func (t *thresholdFlag) Set(s string) error {
	th, err := loadgen.ParseThreshold(s)
	if err != nil {
		return err
	}
	*t = append(*t, th)
	return nil
}

// thresholdUsage is the help of every --threshold flag.
const thresholdUsage = "fail the run (exit 3) unless `EXPR` holds, repeatable: p50|p90|p99|p99.9|max|mean<DURATION (corrected latency), errors|unsent|unfinished|late<N or N%, rate>=N or F*requested; like --threshold 'p99<2ms' --threshold 'errors<0.1%'"

// rateUsage is the help of --rate: its three forms.
const rateUsage = "open loop: the `RATE` of requests per second in total, or its shape: a constant 2000; a ramp 100..20000/30s (linear from 100 to 20000/s over 30s); steps 1000,2000,4000/10s (each rate for 10s). The warm-up runs at the first rate, -d defaults to the shape's length, and a longer -d holds the last rate, a shorter one cuts the shape (default: a closed loop)"

// exitStatus is a finished run's verdict when it is not a success: main
// prints msg on one line and exits with code (1: requests failed, 3: a
// threshold was crossed), as k6 gives crossed thresholds their own status.
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

// Exit statuses of a finished run.
const (
	exitFailed  = 1 // a request failed, was left unsent or unfinished, or none was answered
	exitCrossed = 3 // a threshold was crossed
)

// verdict returns the exit status a run earned: failed requests first,
// unless allowed, then crossed thresholds; nil for a success.
func verdict(s loadgen.Summary, allowErrors bool) error {
	if p := s.Problems(); len(p) > 0 && !allowErrors {
		return &exitStatus{code: exitFailed, msg: "not every request was served: " + strings.Join(p, ", ") + " (--allow-errors accepts it)"}
	}
	if c := loadgen.Crossed(s.Thresholds); len(c) > 0 {
		var ss []string
		for _, r := range c {
			ss = append(ss, fmt.Sprintf("%s (%s)", r.Expr, r.Value))
		}
		return &exitStatus{code: exitCrossed, msg: "threshold crossed: " + strings.Join(ss, ", ")}
	}
	return nil
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
	fs.Var(&c.Rate, "rate", rateUsage)
	fs.BoolVar(&c.Reconnect, "reconnect", false, "short connections: a new connection per request (per --requests-per-conn requests); with --rate, the same as --connect-rate")
	fs.Var(&f.connectRate, "connect-rate", "open loop of connections: `R` new connections per second in total (or a shape, as --rate takes), each doing --requests-per-conn requests, then closed (see --close); -c caps the connections open at once (default R/10, at least 1 and at most 1000); latency counts from each connect's due time")
	fs.IntVar(&c.PerConn, "requests-per-conn", 0, "with --connect-rate or --reconnect: requests each connection carries, one after the other (--pipeline at once), before it is closed (default 1)")
	fs.StringVar(&c.Close, "close", "", "with --connect-rate or --reconnect: who closes each connection first, client (TIME_WAIT stays on the client, holding one of its ports for 60s) or server (the client waits for the server's close, sending hello's exit; TIME_WAIT goes to the server) (default client)")
	fs.BoolVar(&c.NoReply, "no-reply", false, "the server answers nothing (a receive-only UDP server): a request is done once sent, and a reply is an error")
	fs.DurationVar(&c.Duration, "d", 10*time.Second, "duration of the measured part")
	fs.Int64Var(&c.Requests, "n", 0, "stop after this many requests instead of a duration")
	fs.DurationVar(&c.Warmup, "warmup", 0, "warm-up before measuring, not recorded")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "timeout of each request")
	fs.DurationVar(&c.Grace, "grace", 0, "how long the requests in flight at the end may still be answered (and, in an open loop, the requests held up in the run's last tenth sent); no request due after the end is sent (default: the smaller of --timeout and 1s)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 2*time.Second, "timeout of each connect")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not loopback or a Unix socket")
	fs.StringVar(&c.Tag, "tag", "", "name of the run in its files (no spaces or commas)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	fs.StringVar(&f.out, "out", "", "write latency.hgrm, latency.hlog and summary.json into this directory")
	fs.BoolVar(&f.quiet, "quiet", false, "no live progress line")
	fs.StringVar(&c.Engine, "engine", "", "how connections are driven: epoll (default for tcp and unix on Linux) or goroutine")
	fs.IntVar(&c.Threads, "threads", 0, "epoll engine threads (default: the CPUs the process may use)")
	fs.Var(&f.thresholds, "threshold", thresholdUsage)
	fs.BoolVar(&f.allowErrors, "allow-errors", false, "exit 0 even if requests failed or were left unsent or unfinished (thresholds still apply)")
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
	case c.Grace < 0:
		return usageError("--grace wants a duration, like --grace 500ms")
	}
	if err := f.checkConnect(set); err != nil {
		return err
	}
	if set["grace"] && c.Grace == 0 {
		c.Grace = -1 // none, where the zero value means the default
	}
	for _, th := range f.thresholds {
		if th.NeedsRequested() && c.Rate.IsZero() {
			return usageError("--threshold %q compares with the requested rate, which only an open loop (--rate) has", th.Expr)
		}
	}
	if err := loadgen.CheckSize(c.Client.Size, c.Connections, c.Pipeline); err != nil {
		return usageError("--size: %v", err)
	}
	switch {
	case set["n"] && !set["d"]:
		c.Duration = 0
	case !set["d"] && c.Rate.Length() > 0:
		// A ramp or steps run for their length unless -d says
		// otherwise.
		c.Duration = c.Rate.Length()
	}
	if set["n"] && c.Rate.Last() == 0 && !c.Rate.IsZero() {
		return usageError("--rate %s ends at 0: -n cannot bound it; give -d", c.Rate)
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

// maxDefaultSlots bounds the connections open at once that --connect-rate
// allows when -c is not given.
const maxDefaultSlots = 1000

// checkConnect checks the short-connection flags and makes a
// --connect-rate run an open loop of short connections: the schedule's rate
// is then of connects (see loadgen.Config.Reconnect).
func (f *loadFlags) checkConnect(set map[string]bool) error {
	c := &f.cfg
	short := c.Reconnect || set["connect-rate"]
	switch {
	case set["connect-rate"] && set["rate"]:
		return usageError("--rate and --connect-rate are two schedules: give one (--connect-rate R with --requests-per-conn K asks for R*K requests/s)")
	case set["requests-per-conn"] && c.PerConn < 1:
		return usageError("--requests-per-conn wants a positive number, like --requests-per-conn 10")
	case (set["requests-per-conn"] || set["close"]) && !short:
		return usageError("--requests-per-conn and --close are for short connections: give --connect-rate R (or --reconnect)")
	case set["close"] && c.Close != loadgen.CloseClient && c.Close != loadgen.CloseServer:
		return usageError("--close wants client or server")
	case !c.Rate.IsZero() && c.PerConn > 1:
		return usageError("--rate counts requests and --requests-per-conn %d connects them %d to a connection: give the schedule of connects, like --connect-rate %g", c.PerConn, c.PerConn, c.Rate.First()/float64(c.PerConn))
	case set["connect-rate"] && c.PerConn > 1 && set["n"]:
		return usageError("-n with --requests-per-conn %d: bound a --connect-rate run by -d", c.PerConn)
	}
	if set["connect-rate"] {
		c.Rate = f.connectRate
		c.Reconnect = true
		if !set["c"] {
			c.Connections = int(min(max(math.Ceil(f.connectRate.Peak()/10), 1), maxDefaultSlots))
		}
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
	var ff findFlags
	ff.define(fs)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	var shard shardFlag
	fs.Var(&shard, "shard", "run shard `I/N` of a load run by N processes: 1/N of -c and -n, and every N-th due time of the --rate schedule from the I-th (I from 0; N alone takes I from $JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it)")
	var startAt startFlag
	fs.Var(&startAt, "start-at", "start at `TIME` (RFC 3339, like 2026-12-01T10:00:00Z, or +30s from now): wait for it, then start the warm-up; the schedule counts from it")
	fs.DurationVar(&f.cfg.StartTolerance, "start-tolerance", loadgen.DefaultStartTolerance, "with --start-at: refuse to run (exit 2) when reaching the start later than this")
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
	finding := len(ff.criteria) > 0
	if finding {
		if err := ff.setLoadDefaults(fs, &f.cfg); err != nil {
			return err
		}
	}
	if err := f.check(fs); err != nil {
		return err
	}
	f.cfg.Shard, f.cfg.Shards = shard.index, shard.count
	f.cfg.StartAt = startAt.at
	if f.cfg.StartTolerance <= 0 {
		return usageError("--start-tolerance wants a positive duration, like --start-tolerance 2s")
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
	// The configuration is checked before the target is reached (with
	// line framing if it is still to be probed: Run checks it again).
	checked := f.cfg
	if checked.Client.Framing == protocol.Auto {
		checked.Client.Framing = protocol.Line
	}
	if finding {
		checked.Rate = loadgen.Constant(ff.start)
	}
	if err := checked.Validate(); err != nil {
		return usageError("%v", err)
	}
	if err := reach(ctx, f.cfg); err != nil {
		return err
	}
	if _, err := resolveFraming(ctx, &f.cfg, note); err != nil {
		return err
	}
	if finding {
		return runLoadFind(ctx, f, ff, stdout, stderr)
	}
	s, err := runOne(ctx, f, stdout)
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(s)
	} else {
		err = loadgen.WriteText(stdout, s)
	}
	if err != nil {
		return err
	}
	return verdict(s, f.allowErrors)
}

// reach connects once to the target before the run: a target where nothing
// listens is one line and a usage error (exit 2), not a summary of refused
// connects. Datagram sockets over UDP have no connect to refuse, and are
// not tried.
func reach(ctx context.Context, cfg loadgen.Config) error {
	if cfg.Network == "udp" || cfg.Network == "udp4" || cfg.Network == "udp6" {
		return nil
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return usageError("cannot connect to %s %s: %v", cfg.Network, cfg.Addr, err)
	}
	return c.Close()
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
		if errors.Is(err, loadgen.ErrConfig) || errors.Is(err, loadgen.ErrLateStart) {
			return loadgen.Summary{}, usageError("%v", err)
		}
		return loadgen.Summary{}, err
	}
	if res.Thresholds, err = loadgen.CheckThresholds(f.thresholds, res.Summary()); err != nil {
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
	return fmt.Sprintf("%6.1fs  %9.0f req/s  p99 %-9s  %d answered  %d errors",
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

// shardFlag is --shard I/N, or N with I from $JOB_COMPLETION_INDEX.
type shardFlag struct{ index, count int }

// jobIndexEnv is where a Kubernetes Indexed Job puts each pod's index.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

func (s shardFlag) String() string {
	if s.count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}

func (s *shardFlag) Set(v string) error {
	is, ns, hasIndex := strings.Cut(v, "/")
	if !hasIndex {
		is, ns = "", v
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return fmt.Errorf("want I/N, shard I (from 0) of N, like 0/4, or N with I in $%s", jobIndexEnv)
	}
	if is == "" {
		if is = os.Getenv(jobIndexEnv); is == "" {
			return fmt.Errorf("%q gives no index, and $%s is not set: want I/N, like 0/%d", v, jobIndexEnv, n)
		}
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return fmt.Errorf("index %q of %d shards: want 0 to %d", is, n, n-1)
	}
	s.index, s.count = i, n
	return nil
}

// startFlag is --start-at: an RFC 3339 time, or +DURATION from now.
type startFlag struct{ at time.Time }

func (s startFlag) String() string {
	if s.at.IsZero() {
		return ""
	}
	return s.at.UTC().Format(time.RFC3339Nano)
}

func (s *startFlag) Set(v string) error {
	if rest, ok := strings.CutPrefix(v, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return fmt.Errorf("want +DURATION from now, like +30s, or an RFC 3339 time")
		}
		s.at = time.Now().Add(d)
		return nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time, like 2026-12-01T10:00:00Z, or +30s from now")
	}
	s.at = t
	return nil
}
