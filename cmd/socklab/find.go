package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
)

// The search for the highest rate that meets a target, from socklab load
// --find (one target) and socklab bench --find (every model): the search
// itself is loadgen.Find; here are its flags, its step runner (one
// loadgen.Run a step) and its output.

// Default step of a search: short, but long enough after its warm-up for a
// server that falls behind to show it in its p99.
const (
	defaultFindStep   = 3 * time.Second
	defaultFindWarmup = time.Second
)

// exitInconclusive is the exit status of a search that ended without a
// rate within its precision: the step budget was spent, or no rate up to
// --find-max failed.
const exitInconclusive = 4

// defaultFindRetries: a step that failed is run once more, so that a stall
// of a shared machine does not end the probe or the bisection low.
const defaultFindRetries = 1

// findFlags are the search's flags, shared by load and bench.
type findFlags struct {
	criteria  thresholdFlag
	start     float64
	max       float64
	precision float64
	steps     int
	retries   int
}

func (f *findFlags) define(fs *flag.FlagSet) {
	fs.Var(&f.criteria, "find", "search for the highest rate at which `EXPR` holds (the --threshold grammar, like 'p99<1ms'; repeatable, all must hold): probe upward from --find-start by doubling, then bisect; each step an open loop of -d after --warmup (default 3s after 1s)")
	fs.Float64Var(&f.start, "find-start", loadgen.DefaultFindStart, "--find: the first rate tried, requests per second")
	fs.Float64Var(&f.max, "find-max", loadgen.DefaultFindMax, "--find: the highest rate the probe tries")
	f.precision = loadgen.DefaultFindPrecision
	fs.Func("find-precision", "--find: stop once the lowest rate that failed is within `P` of the highest that met, like 5% or 0.05 (default 5%)", func(s string) error {
		num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return fmt.Errorf("want a share, like 5%% or 0.05")
		}
		if pct {
			v /= 100
		}
		f.precision = v
		return nil
	})
	fs.IntVar(&f.steps, "find-steps", loadgen.DefaultFindSteps, "--find: the step budget (every step run counts, retries and controls too)")
	fs.IntVar(&f.retries, "find-retries", defaultFindRetries, "--find: how many times a step that did not meet the target is run again before its rate counts as failed, which a control step at the highest rate met then confirms (noise on a busy machine only adds latency)")
}

// config returns the search's configuration, checked.
func (f *findFlags) config() (loadgen.FindConfig, error) {
	// Zero means the default to loadgen; here it was given.
	switch {
	case !(f.start > 0):
		return loadgen.FindConfig{}, usageError("--find-start wants a positive rate, like --find-start 100")
	case !(f.max > 0):
		return loadgen.FindConfig{}, usageError("--find-max wants a positive rate, like --find-max 100000")
	case !(f.precision > 0):
		return loadgen.FindConfig{}, usageError("--find-precision wants a share above 0, like 5%%")
	case f.retries < 0:
		return loadgen.FindConfig{}, usageError("--find-retries wants 0 or more, like --find-retries 1")
	case f.steps < 2:
		return loadgen.FindConfig{}, usageError("--find-steps wants at least 2 steps, like --find-steps 20")
	}
	c := loadgen.FindConfig{Criteria: f.criteria, Start: f.start, Max: f.max, Precision: f.precision, Steps: f.steps, Retries: f.retries}
	if err := c.Validate(); err != nil {
		return c, usageError("%v", err)
	}
	return c, nil
}

// stepLine is a step as the search prints it when it ends.
func stepLine(s loadgen.FindStep) string {
	try := ""
	switch {
	case s.Control:
		try = "(control)"
	case s.Attempt > 1:
		try = fmt.Sprintf("(try %d)", s.Attempt)
	}
	line := fmt.Sprintf("step %2d  %9s req/s %-9s achieved %9.1f/s  p50 %-9s p99 %-9s errors %-5d ", s.N, loadgen.FormatRate(s.Rate), try,
		s.Achieved, loadgen.FormatDuration(s.P50Us), loadgen.FormatDuration(s.P99Us), s.Errors)
	if s.Met {
		return line + "met"
	}
	return line + "NOT MET: " + strings.Join(s.Failed, "; ")
}

// runStep runs one step of a search: cfg at rate, its files written under
// dir/StepDir if dir is set, with a live progress line if live.
func runStep(ctx context.Context, cfg loadgen.Config, n int, rate float64, dir string, live io.Writer) (loadgen.Summary, error) {
	cfg.Rate = loadgen.Constant(rate)
	if live != nil {
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(live, "\r\033[Kstep %2d  %9s req/s: %s", n, loadgen.FormatRate(rate), progressLine(p))
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if live != nil {
		fmt.Fprint(live, "\r\033[K")
	}
	if err != nil {
		return loadgen.Summary{}, err
	}
	if dir != "" {
		if err := reports.WriteResult(filepath.Join(dir, loadgen.StepDir(n, rate)), res); err != nil {
			return loadgen.Summary{}, err
		}
	}
	return res.Summary(), nil
}

// search runs the search fc with cfg's load at each step, printing each
// step to w, and names the steps' directories if dir is set. A search cut
// short by an error keeps its steps, its outcome "interrupted".
func search(ctx context.Context, cfg loadgen.Config, fc loadgen.FindConfig, dir string, w io.Writer, live bool) (loadgen.FindResult, error) {
	var lw io.Writer
	if live {
		lw = w
	}
	fc.OnStep = func(s loadgen.FindStep) { fmt.Fprintln(w, stepLine(s)) }
	fc.Cooldown = findCooldown(cfg)
	res, err := loadgen.Find(ctx, fc, func(ctx context.Context, n int, rate float64) (loadgen.Summary, error) {
		return runStep(ctx, cfg, n, rate, dir, lw)
	})
	if dir != "" {
		for i := range res.Steps {
			res.Steps[i].Dir = loadgen.StepDir(res.Steps[i].N, res.Steps[i].Rate)
		}
	}
	if err != nil && res.Outcome == "" {
		res.Outcome = "interrupted"
	}
	return res, err
}

// findCooldown is the pause after a step that failed: a step's length, in
// which a server drains what a step at up to twice its capacity queued
// (see loadgen.FindConfig.Cooldown).
func findCooldown(cfg loadgen.Config) time.Duration { return cfg.Warmup + cfg.Duration }

// findWorkload says what each step of a search of cfg ran, its rate aside.
func findWorkload(cfg loadgen.Config) string {
	what := cfg.Protocol
	if cfg.Protocol == "echo" {
		size := cfg.Client.Size
		if size == 0 {
			size = 64
		}
		what = fmt.Sprintf("echo %dB", size)
	}
	conns := fmt.Sprintf("%d connections", cfg.Connections)
	if cfg.Connections == 1 {
		conns = "1 connection"
	}
	kind := "long connections"
	if cfg.Reconnect {
		kind = "short connections"
	}
	return fmt.Sprintf("%s over %s, %s (%s, %d in flight each); each step an open loop of %s after a %s warm-up, and a pause of %s after a step that fails, for the server to drain",
		what, cfg.Network, conns, kind, max(cfg.Pipeline, 1), cfg.Duration, cfg.Warmup, findCooldown(cfg))
}

// findVerdict is the exit status a search earned: 0 for a rate found
// within the precision; 3 when even the start rate did not meet the
// target; 4 when the budget ran out or no ceiling was found.
func findVerdict(res loadgen.FindResult) error {
	switch res.Outcome {
	case loadgen.FindFound:
		return nil
	case loadgen.FindStartFailed:
		return &exitStatus{code: exitCrossed, msg: res.Describe()}
	}
	return &exitStatus{code: exitInconclusive, msg: res.Describe()}
}

// runLoadFind is socklab load --find: the flags are parsed and checked,
// the target reached and its framing resolved.
func runLoadFind(ctx context.Context, f loadFlags, ff findFlags, stdout, stderr io.Writer) error {
	fc, err := ff.config()
	if err != nil {
		return err
	}
	// Under --json the steps go to stderr, and stdout is one document.
	w := stdout
	if f.jsonOut {
		w = stderr
	}
	fmt.Fprintf(w, "searching %s %s for the highest rate that meets %s: %s; from %s req/s, doubling, then bisecting to within %g%%, at most %d steps\n",
		f.cfg.Network, f.cfg.Addr, strings.Join(findCriteria(fc), " and "), findWorkload(f.cfg), loadgen.FormatRate(fc.Start), 100*fc.Precision, fc.Steps)
	res, serr := search(ctx, f.cfg, fc, f.out, w, !f.quiet && !f.jsonOut && isTerminal(stdout))
	if f.out != "" && len(res.Steps) > 0 {
		run := &reports.FindRun{Name: fmt.Sprintf("%s %s", f.cfg.Network, f.cfg.Addr), Workload: findWorkload(f.cfg), Criteria: res.Criteria,
			Searches: []reports.Search{{Model: f.cfg.Addr, Result: res}}}
		if err := reports.WriteFindRun(f.out, run); err != nil {
			return errors.Join(serr, err)
		}
	}
	if serr != nil {
		if errors.Is(serr, context.Canceled) {
			return fmt.Errorf("interrupted after %d steps", len(res.Steps))
		}
		return serr
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout, res.Describe())
	}
	return findVerdict(res)
}

func findCriteria(fc loadgen.FindConfig) []string {
	var out []string
	for _, t := range fc.Criteria {
		out = append(out, t.Expr)
	}
	return out
}

// checkFindConflicts refuses the load flags a search sets itself: the rate
// is the search's, a step is bounded by -d, and one search is one process.
func checkFindConflicts(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, c := range []struct{ flag, why string }{
		{"rate", "the search sets the rate of each step"},
		{"n", "each step runs for -d"},
		{"shard", "a search runs in one process"},
		{"start-at", "a search runs in one process"},
		{"threshold", "each step is judged by the --find criteria"},
	} {
		if set[c.flag] {
			dash := "--"
			if len(c.flag) == 1 {
				dash = "-"
			}
			return usageError("--find and %s%s cannot be combined: %s", dash, c.flag, c.why)
		}
	}
	return nil
}

// setLoadDefaults refuses the load flags that conflict with a search and
// makes a step short: -d and --warmup, unless given, are a step's.
func (f *findFlags) setLoadDefaults(fs *flag.FlagSet, cfg *loadgen.Config) error {
	if err := checkFindConflicts(fs); err != nil {
		return err
	}
	if _, err := f.config(); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if !set["d"] {
		cfg.Duration = defaultFindStep
	}
	if !set["warmup"] {
		cfg.Warmup = defaultFindWarmup
	}
	return nil
}

// findConns is the connections of bench --find's load: the open-loop
// scenario's.
const findConns = 16

// benchFind is socklab bench --find: for every model (or the external
// server), its server started alone, the search under fc, each step of
// step after warmup; it writes reports/<run>/ (find.json, index.html,
// summary.md, and every step's files under <model>/) and
// reports/latest.
func benchFind(ctx context.Context, o benchOptions, models []string, notes []string, fc loadgen.FindConfig, step, warmup time.Duration) (string, *reports.FindRun, error) {
	runName := time.Now().UTC().Format("20060102-150405")
	dir := filepath.Join(o.out, runName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	cfgOf := func(t target, model string) loadgen.Config {
		cfg := loadgen.Config{Network: t.network, Addr: t.addr, Protocol: "echo", Connections: findConns,
			Duration: step, Warmup: warmup, Timeout: time.Second, ConnectTimeout: time.Second, Tag: model,
			Interval: max(step/10, 10*time.Millisecond)}
		cfg.Client.Size = 64
		cfg.Client.Framing, cfg.FramingEvidence = t.framing, t.framingEvidence
		return cfg
	}
	run := &reports.FindRun{Name: runName, Notes: notes, Criteria: findCriteria(fc),
		Workload: findWorkload(cfgOf(target{network: "tcp"}, ""))}
	for i, m := range models {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		t := target{}
		if o.external != nil {
			t = *o.external
		} else {
			var err error
			if t, err = o.start(m, "echo"); err != nil {
				return "", nil, err
			}
		}
		fmt.Fprintf(o.progress, "[%d/%d] %s\n", i+1, len(models), m)
		res, err := search(ctx, cfgOf(t, m), fc, filepath.Join(dir, m), o.progress, o.live)
		if serr := t.stop(); err == nil && serr != nil {
			err = fmt.Errorf("stop %s: %w", m, serr)
		}
		if err != nil {
			return "", nil, fmt.Errorf("bench %s: %w", m, err)
		}
		fmt.Fprintf(o.progress, "%s: %s\n", m, res.Describe())
		run.Searches = append(run.Searches, reports.Search{Model: m, Dir: m, Result: res})
	}
	run.Rank()
	if err := reports.WriteFindRun(dir, run); err != nil {
		return "", nil, err
	}
	if err := linkLatest(o.out, runName); err != nil {
		return "", nil, err
	}
	return dir, run, nil
}
