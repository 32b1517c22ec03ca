package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/internal/serveproc"
	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/reports"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func init() {
	register(command{name: "bench", summary: "run the benchmark matrix over the reference targets", run: runBench})
}

// benchScenario is one cell of the matrix.
type benchScenario struct {
	group     string
	model     string
	protocol  string
	size      int
	conns     int
	rate      float64
	reconnect bool
}

func (s benchScenario) slug() string {
	loop := "closed"
	if s.rate > 0 {
		loop = fmt.Sprintf("rate%g", s.rate)
	}
	g := strings.NewReplacer(" ", "-", "/", "-").Replace(s.group)
	return fmt.Sprintf("%s-%s-c%d-%s", g, s.model, s.conns, loop)
}

// benchPlan is the matrix and its timing.
type benchPlan struct {
	scenarios []benchScenario
	duration  time.Duration
	warmup    time.Duration
	timeout   time.Duration
	notes     []string
}

// openRate is the open-loop scenario's fixed rate: low enough for every
// model (iterative included) to keep up on a 2-core machine, so that the
// plot compares latency, not saturation.
const openRate = 1000

// planMatrix designs the matrix. Every model runs echo 64 B at 1, 16, 128
// and 1 000 connections and one open loop; a few representative models run
// the other workloads, so that the default run stays well under 15 minutes
// on two cores.
func planMatrix(models []string, quick bool) benchPlan {
	// The request timeout is half the measured part, so that a connection
	// left waiting (queued past a model's capacity) times out inside the
	// window and shows as errors, not only as a request unfinished at the
	// end, which every closed-loop connection has.
	p := benchPlan{duration: 2 * time.Second, warmup: 500 * time.Millisecond, timeout: time.Second}
	conns := []int{1, 16, 128, 1000}
	if quick {
		p.duration, p.warmup, p.timeout = 700*time.Millisecond, 200*time.Millisecond, 350*time.Millisecond
		conns = []int{1, 16, 128}
	}
	echo64 := "echo 64B"
	for _, m := range models {
		for _, c := range conns {
			p.scenarios = append(p.scenarios, benchScenario{group: echo64, model: m, protocol: "echo", size: 64, conns: c})
		}
		p.scenarios = append(p.scenarios, benchScenario{group: echo64, model: m, protocol: "echo", size: 64, conns: 16, rate: openRate})
	}
	// The other workloads on a representative subset: one blocking model
	// per family and the reactor.
	var few []string
	for _, m := range []string{"goroutine", "thread", "pool", "epoll"} {
		if slices.Contains(models, m) {
			few = append(few, m)
		}
	}
	if len(few) == 0 && len(models) > 0 {
		few = models[:1]
	}
	if quick && len(few) > 2 {
		few = few[:2]
	}
	for _, m := range few {
		p.scenarios = append(p.scenarios,
			benchScenario{group: "echo 4KiB", model: m, protocol: "echo", size: 4096, conns: 16},
			benchScenario{group: "hello", model: m, protocol: "hello", conns: 16},
			benchScenario{group: "http", model: m, protocol: "http", conns: 16},
			benchScenario{group: "echo 64B short connections", model: m, protocol: "echo", size: 64, conns: 16, reconnect: true},
		)
	}
	p.notes = append(p.notes, fmt.Sprintf("Each scenario runs %s after a %s warm-up; requests time out after %s and connects after 1s.", p.duration, p.warmup, p.timeout))
	return p
}

// externalPlan benchmarks one server the user runs.
func externalPlan(protocolName string, size int, quick bool) benchPlan {
	p := benchPlan{duration: 3 * time.Second, warmup: 500 * time.Millisecond, timeout: 2 * time.Second}
	if quick {
		p.duration, p.warmup = time.Second, 200*time.Millisecond
	}
	g := protocolName
	if protocolName == "echo" {
		g = fmt.Sprintf("echo %dB", size)
	}
	for _, c := range []int{1, 16, 128} {
		p.scenarios = append(p.scenarios, benchScenario{group: g, model: "external", protocol: protocolName, size: size, conns: c})
	}
	p.scenarios = append(p.scenarios, benchScenario{group: g, model: "external", protocol: protocolName, size: size, conns: 16, rate: openRate})
	return p
}

// target is a running server under test.
type target struct {
	network, addr string
	// framing is what the target speaks: line for the reference targets,
	// given or probed for an external server.
	framing         protocol.Framing
	framingEvidence string
	stop            func() error
}

// starter starts model serving protocol. The CLI starts each as its own
// process; tests start them in-process.
type starter func(model, protocol string) (target, error)

// execStarter re-executes this binary as `socklab serve`, pinned to CPU 0
// with taskset when pin is set, and reads its "listening on" line.
func execStarter(pin bool) starter {
	return func(model, proto string) (target, error) {
		self, err := os.Executable()
		if err != nil {
			return target{}, fmt.Errorf("start %s: %w", model, err)
		}
		args := []string{self, "serve", "--model", model, "--protocol", proto}
		if pin {
			args = append([]string{"taskset", "-c", "0"}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = io.Discard
		p, err := serveproc.Start(cmd, 1, 15*time.Second, nil)
		if err != nil {
			return target{}, fmt.Errorf("start %s %s: %w", model, proto, err)
		}
		stop := func() error { return p.Stop(10 * time.Second) }
		return target{network: p.Addrs[0].Network, addr: p.Addrs[0].Address, stop: stop}, nil
	}
}

// inProcessStarter starts targets in this process (tests, and machines
// where re-exec is not wanted).
func inProcessStarter(model, proto string) (target, error) {
	m, err := registry.Lookup(model)
	if err != nil {
		return target{}, err
	}
	srv, err := m.Start(targets.Config{Protocol: proto})
	if err != nil {
		return target{}, fmt.Errorf("start %s %s: %w", model, proto, err)
	}
	a := srv.Addrs()[0]
	return target{network: a.Network(), addr: a.String(), stop: srv.Close}, nil
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit: 1 000
// connections need more than the usual soft limit of 1 024 descriptors.
// Children inherit it.
func raiseNoFile() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	rl.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// pinSelf pins every thread of this process to CPU 1 (threads made later
// inherit it) with taskset, and reports whether it did.
func pinSelf() bool {
	if runtime.NumCPU() < 2 {
		return false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	return exec.Command("taskset", "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).Run() == nil
}

// config is the load of scenario sc against t.
func (p benchPlan) config(sc benchScenario, t target) loadgen.Config {
	cfg := loadgen.Config{
		Network: t.network, Addr: t.addr, Protocol: sc.protocol, Connections: sc.conns,
		Rate: loadgen.Constant(sc.rate), Reconnect: sc.reconnect, Duration: p.duration, Warmup: p.warmup,
		Timeout: p.timeout, ConnectTimeout: time.Second, Tag: sc.model,
		// Ten intervals a scenario: enough points for its latency and
		// rate over time.
		Interval: max(p.duration/10, 10*time.Millisecond),
	}
	cfg.Client.Size = sc.size
	cfg.Client.Framing, cfg.FramingEvidence = t.framing, t.framingEvidence
	return cfg
}

type benchOptions struct {
	plan       benchPlan
	out        string
	start      starter
	external   *target
	progress   io.Writer
	live       bool
	thresholds []loadgen.Threshold
}

// bench runs the plan and writes reports/<run>/ and reports/latest.
func bench(ctx context.Context, o benchOptions) (string, *reports.Run, error) {
	runName := time.Now().UTC().Format("20060102-150405")
	dir := filepath.Join(o.out, runName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	run := &reports.Run{Name: runName, Notes: o.plan.notes, Base: dir}
	for _, th := range o.thresholds {
		run.Thresholds = append(run.Thresholds, th.Expr)
	}
	type key struct{ model, proto string }
	running := map[key]target{}
	defer func() {
		for _, t := range running {
			t.stop()
		}
	}()
	n := len(o.plan.scenarios)
	for i, sc := range o.plan.scenarios {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		k := key{sc.model, sc.protocol}
		t, ok := running[k]
		switch {
		case o.external != nil:
			t = *o.external
		case !ok:
			// One server per model at a time keeps the machine quiet.
			for rk, rt := range running {
				rt.stop()
				delete(running, rk)
			}
			var err error
			t, err = o.start(sc.model, sc.protocol)
			if err != nil {
				return "", nil, err
			}
			running[k] = t
		}
		cfg := o.plan.config(sc, t)
		conns := fmt.Sprintf("%d connections", sc.conns)
		if sc.conns == 1 {
			conns = "1 connection"
		}
		label := fmt.Sprintf("[%d/%d] %s, %s, %s", i+1, n, sc.group, sc.model, conns)
		if sc.rate > 0 {
			label += fmt.Sprintf(", %g req/s", sc.rate)
		}
		if o.live {
			cfg.Progress = func(p loadgen.Progress) {
				fmt.Fprintf(o.progress, "\r\033[K%s: %s", label, progressLine(p))
			}
		}
		res, err := loadgen.Run(ctx, cfg)
		if err != nil {
			return "", nil, fmt.Errorf("bench %s: %w", sc.slug(), err)
		}
		if res.Thresholds, err = loadgen.CheckThresholds(o.thresholds, res.Summary()); err != nil {
			return "", nil, err
		}
		sub := fmt.Sprintf("%02d-%s", i+1, sc.slug())
		if err := reports.WriteResult(filepath.Join(dir, sub), res); err != nil {
			return "", nil, err
		}
		s := res.Summary()
		if o.live {
			fmt.Fprint(o.progress, "\r\033[K")
		}
		fmt.Fprintf(o.progress, "%s: %s\n", label, scenarioLine(s))
		run.Scenarios = append(run.Scenarios, reports.Scenario{Group: sc.group, Model: sc.model, Dir: sub, Summary: s})
	}
	run.Sort()
	err := writeRunFiles(dir, run)
	if err != nil {
		return "", nil, err
	}
	if err := linkLatest(o.out, runName); err != nil {
		return "", nil, err
	}
	return dir, run, nil
}

// linkLatest points out/latest at the run runName.
func linkLatest(out, runName string) error {
	// renameio replaces the link atomically.
	if err := renameio.Symlink(runName, filepath.Join(out, "latest")); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// scenarioLine is a scenario's one-line outcome in the bench's progress.
func scenarioLine(s loadgen.Summary) string {
	line := fmt.Sprintf("%.0f req/s, p99 %s, success %s", s.AchievedRate, loadgen.FormatDuration(s.Corrected.P99Us), loadgen.FormatRatio(s.SuccessRatio))
	if p := s.Problems(); len(p) > 0 {
		line += " (" + strings.Join(p, ", ") + ")"
	}
	for _, c := range loadgen.Crossed(s.Thresholds) {
		line += fmt.Sprintf("; crossed %s: %s", c.Expr, c.Value)
	}
	return line
}

// benchVerdict is the exit status of a finished bench: 1 if an external
// server failed requests (the reference models that fail do so by design,
// and the report says which), unless allowErrors; then 3 if a scenario
// crossed a threshold.
func benchVerdict(run *reports.Run, external, allowErrors bool) error {
	var failed, crossed []string
	for _, sc := range run.Scenarios {
		name := fmt.Sprintf("%s %s c%d", sc.Group, sc.Model, sc.Summary.Connections)
		if sc.Open() {
			name += fmt.Sprintf(" %g/s", sc.Summary.RequestedRate)
		}
		if !sc.Summary.Served() {
			failed = append(failed, name)
		}
		if len(loadgen.Crossed(sc.Summary.Thresholds)) > 0 {
			crossed = append(crossed, name)
		}
	}
	if external && len(failed) > 0 && !allowErrors {
		return &exitStatus{code: exitFailed, msg: fmt.Sprintf("%d of %d scenarios did not serve every request: %s (--allow-errors accepts it)", len(failed), len(run.Scenarios), strings.Join(failed, "; "))}
	}
	if len(crossed) > 0 {
		return &exitStatus{code: exitCrossed, msg: fmt.Sprintf("%d of %d scenarios crossed a threshold: %s", len(crossed), len(run.Scenarios), strings.Join(crossed, "; "))}
	}
	return nil
}

func writeRunFiles(dir string, run *reports.Run) error {
	err := reports.WriteFile(filepath.Join(dir, reports.ResultsFile), func(w io.Writer) error { return reports.WriteRun(w, run) })
	if err != nil {
		return err
	}
	return reports.WriteReport(dir, run)
}

// streamModels returns the registry's models that serve TCP.
func streamModels() []string {
	var ms []string
	for _, m := range registry.Models() {
		if m.Serves(targets.TCP) {
			ms = append(ms, m.Name)
		}
	}
	return ms
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "[--quick] [--addr ADDR --protocol P] [--out reports] [--models a,b]",
		"socklab bench --quick\n  socklab bench --addr 127.0.0.1:9000 --protocol echo", stderr)
	quick := fs.Bool("quick", false, "a short run (under 2 minutes): fewer models, connections and seconds")
	addr := fs.String("addr", "", "benchmark this external server instead of the reference targets")
	proto := fs.String("protocol", "echo", "the external server's protocol")
	network := fs.String("network", "tcp", "the external server's network")
	size := fs.Int("size", 64, "echo payload size for an external server")
	framing := protocol.Auto
	fs.Var(&framing, "framing", "external server: "+framingUsage)
	out := fs.String("out", "reports", "directory of the run directories")
	modelsFlag := fs.String("models", "", "comma-separated models to run (default: every stream model; --quick: goroutine, iterative, epoll)")
	inproc := fs.Bool("in-process", false, "run the targets in this process instead of one process each")
	allowRemote := fs.Bool("allow-remote", false, "allow an external server that is not loopback or a Unix socket")
	var thresholds thresholdFlag
	fs.Var(&thresholds, "threshold", thresholdUsage+"; checked on every scenario (rate thresholds on the open loops only)")
	allowErrors := fs.Bool("allow-errors", false, "external server: exit 0 even if a scenario failed requests")
	var ff findFlags
	ff.define(fs)
	findStep := fs.Duration("find-step", defaultFindStep, "--find: the measured length of each step")
	findWarmup := fs.Duration("find-warmup", defaultFindWarmup, "--find: the warm-up of each step")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := protocol.Lookup(*proto); err != nil {
		return usageError("--protocol: %v", err)
	}
	finding := len(ff.criteria) > 0
	if finding {
		if len(thresholds) > 0 {
			return usageError("--find and --threshold cannot be combined: each step is judged by the --find criteria")
		}
		if *quick {
			return usageError("--find and --quick cannot be combined: a search sets its own steps (--find-step, --find-warmup)")
		}
		if *findStep <= 0 || *findWarmup < 0 {
			return usageError("--find-step wants a positive duration and --find-warmup a duration, like --find-step 3s --find-warmup 1s")
		}
		if _, err := ff.config(); err != nil {
			return err
		}
	}
	if *size <= 0 {
		return usageError("--size wants a positive number of bytes, like --size 64")
	}
	switch *network {
	case "tcp", "unix", "udp", "unixgram":
	default:
		return usageError("--network %q: want tcp, unix, udp or unixgram", *network)
	}
	// The run directory is made under --out once the run starts: check it
	// can be before anything runs.
	if err := reports.CheckOutDir(*out); err != nil {
		return usageError("--out: %v", err)
	}
	o := benchOptions{out: *out, progress: stdout, live: isTerminal(stdout), thresholds: thresholds}
	var notes []string
	if lim, err := raiseNoFile(); err != nil {
		notes = append(notes, fmt.Sprintf("could not raise the descriptor limit: %v", err))
	} else if lim < 2100 {
		notes = append(notes, fmt.Sprintf("the descriptor limit is %d: 1000-connection scenarios may fail to connect", lim))
	}
	pinned := false
	if *addr != "" {
		if err := loadgen.CheckTarget(*network, *addr, *allowRemote); err != nil {
			return usageError("%v", err)
		}
		o.plan = externalPlan(*proto, *size, *quick)
		probed := loadgen.Config{Network: *network, Addr: *addr, Protocol: *proto, Client: protocol.ClientOptions{Options: protocol.Options{Framing: framing}}}
		how, err := resolveFraming(context.Background(), &probed, stdout)
		if err != nil {
			return err
		}
		o.external = &target{network: *network, addr: *addr, framing: probed.Client.Framing,
			framingEvidence: probed.FramingEvidence, stop: func() error { return nil }}
		// Every scenario's load is checked before the first runs, and
		// before the run directory is made.
		for _, sc := range o.plan.scenarios {
			if err := o.plan.config(sc, *o.external).Validate(); err != nil {
				return usageError("%v", err)
			}
		}
		// Then one connect: a server where nothing listens is one line,
		// not a report of refused connects.
		if err := reach(context.Background(), loadgen.Config{Network: *network, Addr: *addr}); err != nil {
			return err
		}
		if how != "" {
			notes = append(notes, fmt.Sprintf("The server was spoken to in %s framing (%s).", probed.Client.Framing, how))
		}
	} else {
		models := streamModels()
		if *modelsFlag != "" {
			models = nil
			for _, m := range strings.Split(*modelsFlag, ",") {
				if _, err := registry.Lookup(m); err != nil {
					return usageError("--models: %v", err)
				}
				models = append(models, m)
			}
		} else if *quick {
			all := models
			models = nil
			for _, m := range []string{"goroutine", "iterative", "epoll"} {
				if slices.Contains(all, m) {
					models = append(models, m)
				}
			}
		}
		o.plan = planMatrix(models, *quick)
		if *inproc {
			o.start = inProcessStarter
		} else {
			pinned = pinSelf()
			o.start = execStarter(pinned)
		}
		notes = append(notes, "Models with a declared capacity (iterative: 1, pool: its worker count) queue the connections past it: those wait past the request timeout and count as timeout errors, by design. Requests in flight at the end of a scenario get a grace (the request timeout, at most 1s) to be answered; those still unanswered then are unfinished, and with those never sent (unsent) they count in the corrected latency at their age.")
		notes = append(notes, limitsNote())
	}
	if pinned {
		notes = append(notes, "Servers were pinned to CPU 0 and the load generator to CPU 1 with taskset.")
	} else {
		notes = append(notes, "Servers and load generator were not pinned to CPUs (taskset unavailable, one CPU, in-process or external target).")
	}
	o.plan.notes = append(o.plan.notes, notes...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if finding {
		fc, _ := ff.config()
		var models []string
		if o.external != nil {
			models = []string{"external"}
		} else {
			for _, sc := range o.plan.scenarios {
				if !slices.Contains(models, sc.model) {
					models = append(models, sc.model)
				}
			}
		}
		fmt.Fprintf(stdout, "socklab bench: the highest rate that meets %s, for %d models\n", strings.Join(findCriteria(fc), " and "), len(models))
		dir, run, err := benchFind(ctx, o, models, notes, fc, *findStep, *findWarmup)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("interrupted")
			}
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s, %s, %s); %s links to it\n", dir, reports.HTMLFile, reports.MarkdownFile, reports.FindFile, filepath.Join(*out, "latest"))
		if o.external != nil {
			return findVerdict(run.Searches[0].Result)
		}
		return nil
	}
	fmt.Fprintf(stdout, "socklab bench: %d scenarios, about %s\n", len(o.plan.scenarios),
		(time.Duration(len(o.plan.scenarios)) * (o.plan.duration + o.plan.warmup)).Round(time.Second))
	dir, run, err := bench(ctx, o)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted")
		}
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s, %s); %s links to it\n", dir, reports.HTMLFile, reports.MarkdownFile, reports.ResultsFile, filepath.Join(*out, "latest"))
	return benchVerdict(run, o.external != nil, *allowErrors)
}
