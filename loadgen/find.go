package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// The search for the highest rate that meets a target (tcpkali's
// -r @latency, Nighthawk's adaptive load controller, wrk2's wished-for
// maximum-throughput mode). A step is a short open-loop run at a constant
// rate; the search probes upward from a start rate by doubling until a step
// fails, then bisects between the highest rate that met the target and the
// lowest that did not, until the two are within a precision or the step
// budget is spent. Find is the search alone, over a StepRunner, so that it
// is tested without a network; the runner is loadgen.Run in socklab load
// and bench.
//
// A step meets the target when every criterion holds on its summary (the
// corrected latency, which holds the ages of requests never sent or never
// answered) and, unless a criterion bounds them itself, the step served
// every request due (nothing failed, unsent or unfinished, no connect left
// pending). A step that flatters a server which stopped answering would
// make the search report a rate the server cannot take: the worst defect a
// search can have. A step that served every request due kept its rate by
// construction; its achieved rate (answers over the run's wall time, which
// includes the grace and the stop) is not asked of it unless a criterion
// (rate>=F*requested) asks: on a step of a second, the stop alone can cost
// a tenth of it on a busy machine.

// Defaults of a search.
const (
	DefaultFindStart     = 100  // requests per second
	DefaultFindMax       = 1e6  // requests per second
	DefaultFindPrecision = 0.05 // (lowest failed - highest met) / highest met
	DefaultFindSteps     = 30   // a probe to 100 000 req/s, a bisection to 5%, their retries and controls
)

// Outcomes of a search.
const (
	// FindFound: the highest rate that met the target is within the
	// precision of the lowest that did not.
	FindFound = "found"
	// FindStartFailed: even the start rate did not meet the target.
	FindStartFailed = "start-failed"
	// FindBudget: the step budget was spent before the interval was
	// within the precision.
	FindBudget = "budget"
	// FindNoCeiling: every rate tried met the target, up to the highest
	// (FindConfig.Max) or until the budget was spent: the rate found is a
	// lower bound.
	FindNoCeiling = "no-ceiling"
)

// ErrFind is returned for a bad search configuration.
var ErrFind = errors.New("bad search")

// FindConfig configures a search.
type FindConfig struct {
	// Criteria must all hold for a step to meet the target.
	Criteria []Threshold
	// Start is the first rate tried (default DefaultFindStart); Max the
	// highest the probe goes (default DefaultFindMax).
	Start, Max float64
	// Precision ends the search once (failed - met) / met is at most it
	// (default DefaultFindPrecision).
	Precision float64
	// Steps is the step budget (default DefaultFindSteps): every step
	// run counts, retries too.
	Steps int
	// Retries is how many times a step that did not meet the target is
	// run again at its rate before the rate counts as failed (default 0).
	// Noise on a shared machine (a process scheduled late, a stall of the
	// network stack, a virtual CPU's steal) only ever adds latency: it can
	// fail a rate the server takes, never meet one it cannot (a server
	// past its capacity queues without bound, every run), so a rate that
	// met once is met.
	//
	// For the same reason a failure is confirmed before it counts: once
	// every run at a rate has failed, a control step runs at half the
	// highest rate that met (see controlRate). If the control meets, the
	// rate failed. If it fails, the machine is failing a rate the server
	// takes with room to spare: the failures at the rate are noise and
	// say nothing of the server, and the rate is tried again, once; if it
	// fails again, it failed.
	Retries int
	// Cooldown is how long the search waits before the step after one
	// that did not meet the target. A server pushed past its capacity
	// still holds the requests it queued when the step ends (a FIFO
	// server answers them, closed connections or not), and the next step
	// would pay for them: a retry, a control at a rate the server met, or
	// a lower rate of the bisection would fail on the previous step's
	// backlog. A backlog built over a step at up to twice the capacity
	// drains within the step's length, which is what the CLI waits.
	Cooldown time.Duration
	// OnStep, if set, is called after each step.
	OnStep func(FindStep)

	// sleep waits d unless ctx ends first (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
}

// StepRunner runs step n (from 1) of a search: an open loop at rate
// requests per second. It returns the step's summary; an error ends the
// search.
type StepRunner func(ctx context.Context, n int, rate float64) (Summary, error)

// FindStep is one step of a search.
type FindStep struct {
	N    int     `json:"n"`
	Rate float64 `json:"rate"`
	// Attempt counts the runs at this rate, from 1 (see Retries); 0 for
	// a control.
	Attempt int `json:"attempt"`
	// Control marks a control step: a run at half the highest rate met,
	// after every run at a higher rate failed, to tell the server's
	// failure from the machine's (see FindConfig.Retries).
	Control bool `json:"control,omitempty"`
	// Achieved is the rate answered, requests per second.
	Achieved float64 `json:"achieved"`
	P50Us    float64 `json:"p50_us"`
	P99Us    float64 `json:"p99_us"`
	// TargetUs is, if a criterion bounds a latency, the value of the
	// first such (its metric: TargetMetric of the result).
	TargetUs   float64 `json:"target_us,omitempty"`
	Due        int64   `json:"due"`
	Errors     int64   `json:"errors"`
	Unsent     int64   `json:"unsent"`
	Unfinished int64   `json:"unfinished"`
	Late       int64   `json:"late"`
	Met        bool    `json:"met"`
	// Failed says why the step did not meet the target, one phrase a
	// reason.
	Failed     []string          `json:"failed,omitempty"`
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Dir is where the step's results were written, if they were.
	Dir string `json:"dir,omitempty"`
}

// StepDir names step n's directory: step-03-400rps.
func StepDir(n int, rate float64) string {
	return fmt.Sprintf("step-%02d-%srps", n, FormatRate(rate))
}

// FormatRate prints a rate without trailing zeros (400, 187.5).
func FormatRate(r float64) string { return fmt.Sprintf("%g", r) }

// FindResult is the outcome of a search.
type FindResult struct {
	Criteria []string `json:"criteria"`
	Outcome  string   `json:"outcome"`
	// Rate is the highest rate that met the target (0 if none did); the
	// true highest lies between Met (= Rate) and Failed, the lowest rate
	// that did not (0 if none failed).
	Rate      float64 `json:"rate"`
	Met       float64 `json:"interval_met"`
	Failed    float64 `json:"interval_failed"`
	Precision float64 `json:"precision"`
	Start     float64 `json:"start"`
	Max       float64 `json:"max"`
	Budget    int     `json:"budget"`
	// TargetMetric and TargetBoundUs are the first latency criterion's
	// metric and bound, which the p99-against-rate plot draws ("" if no
	// criterion bounds a latency).
	TargetMetric  string  `json:"target_metric,omitempty"`
	TargetBoundUs float64 `json:"target_bound_us,omitempty"`
	// Noisy counts the control steps that failed: each voided the
	// failures at a rate, which was tried again.
	Noisy int `json:"noisy,omitempty"`
	// Unconfirmed is the rate whose every step failed when the budget ran
	// out, before a control confirmed the failure (0 if none).
	Unconfirmed float64    `json:"unconfirmed,omitempty"`
	Steps       []FindStep `json:"steps"`
}

// Width is the interval's width relative to the rate found ((failed - met)
// / met), or +Inf when either end is missing.
func (r FindResult) Width() float64 {
	if r.Met <= 0 || r.Failed <= 0 {
		return math.Inf(1)
	}
	return (r.Failed - r.Met) / r.Met
}

// Describe says the outcome in one line.
func (r FindResult) Describe() string {
	crit := strings.Join(r.Criteria, " and ")
	switch r.Outcome {
	case FindFound:
		return fmt.Sprintf("found %s req/s, the highest rate that met %s: between %s (met) and %s (not met), within %.1f%%, in %d steps%s",
			FormatRate(r.Rate), crit, FormatRate(r.Met), FormatRate(r.Failed), 100*r.Width(), len(r.Steps), r.noise())
	case FindStartFailed:
		return fmt.Sprintf("even the start rate, %s req/s, did not meet %s: no rate found (try a lower --find-start; or a higher one if the machine is slower at low rates, its idle CPUs waking late)", FormatRate(r.Start), crit)
	case FindBudget:
		if r.Failed == 0 {
			return fmt.Sprintf("step budget of %d spent: %s req/s met %s; %s req/s did not, but the budget ran out before a control step could confirm that the server, not the machine, failed it%s",
				r.Budget, FormatRate(r.Met), crit, FormatRate(r.Unconfirmed), r.noise())
		}
		return fmt.Sprintf("step budget of %d spent: %s req/s met %s, %s did not (%.1f%% apart, more than the precision %.1f%%)%s",
			r.Budget, FormatRate(r.Met), crit, FormatRate(r.Failed), 100*r.Width(), 100*r.Precision, r.noise())
	case FindNoCeiling:
		return fmt.Sprintf("no ceiling found: every rate tried met %s, up to %s req/s (a lower bound; the load generator may be the limit; raise --find-max or the budget)", crit, FormatRate(r.Rate))
	}
	return r.Outcome
}

// noise says how many failures the controls voided, if any.
func (r FindResult) noise() string {
	if r.Noisy == 0 {
		return ""
	}
	return fmt.Sprintf("; %d control steps failed at half a rate the server had met, voiding the failures before them once: the machine is noisy at this target (check steal in vmstat; lengthen the steps or raise the target)", r.Noisy)
}

func (c *FindConfig) normalize() error {
	if c.Start == 0 {
		c.Start = DefaultFindStart
	}
	if c.Max == 0 {
		c.Max = DefaultFindMax
	}
	if c.Precision == 0 {
		c.Precision = DefaultFindPrecision
	}
	if c.Steps == 0 {
		c.Steps = DefaultFindSteps
	}
	switch {
	case len(c.Criteria) == 0:
		return fmt.Errorf("%w: no criterion, like p99<1ms", ErrFind)
	case !(c.Start > 0) || math.IsInf(c.Start, 0):
		return fmt.Errorf("%w: start rate %g: want a positive rate", ErrFind, c.Start)
	case !(c.Max >= c.Start) || math.IsInf(c.Max, 0):
		return fmt.Errorf("%w: highest rate %g: want a rate at least the start rate %g", ErrFind, c.Max, c.Start)
	case !(c.Precision > 0 && c.Precision < 1):
		return fmt.Errorf("%w: precision %g: want a share above 0 and below 1, like 0.05", ErrFind, c.Precision)
	case c.Steps < 2:
		return fmt.Errorf("%w: step budget %d: want at least 2", ErrFind, c.Steps)
	case c.Retries < 0:
		return fmt.Errorf("%w: retries %d: want 0 or more", ErrFind, c.Retries)
	case c.Cooldown < 0:
		return fmt.Errorf("%w: cool-down %v: want 0 or more", ErrFind, c.Cooldown)
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return nil
}

// Validate reports whether Find would take c.
func (c FindConfig) Validate() error { return c.normalize() }

// Find searches for the highest rate that meets cfg's criteria, running
// each step with run. It returns the steps so far with the error of a step
// that could not run, or ctx's.
func Find(ctx context.Context, cfg FindConfig, run StepRunner) (FindResult, error) {
	if err := cfg.normalize(); err != nil {
		return FindResult{}, err
	}
	res := FindResult{Precision: cfg.Precision, Start: cfg.Start, Max: cfg.Max, Budget: cfg.Steps}
	for _, t := range cfg.Criteria {
		res.Criteria = append(res.Criteria, t.Expr)
		if t.IsLatency() && res.TargetMetric == "" {
			res.TargetMetric, res.TargetBoundUs = t.Metric, t.Bound/1e3
		}
	}
	var met, failed float64 // the highest rate that met, the lowest that did not; 0: none yet
	rate := cfg.Start
	n := 0
	prevFailed := false
	// step runs step n+1 at rate and records it, after the cool-down if
	// the step before it failed.
	step := func(rate float64, attempt int) (FindStep, error) {
		if prevFailed && cfg.Cooldown > 0 {
			if err := cfg.sleep(ctx, cfg.Cooldown); err != nil {
				return FindStep{}, err
			}
		}
		if err := ctx.Err(); err != nil {
			return FindStep{}, err
		}
		n++
		s, err := run(ctx, n, rate)
		if err != nil {
			return FindStep{}, fmt.Errorf("step %d at %s req/s: %w", n, FormatRate(rate), err)
		}
		st, err := judgeStep(cfg, n, rate, s)
		if err != nil {
			return FindStep{}, fmt.Errorf("step %d at %s req/s: %w", n, FormatRate(rate), err)
		}
		st.Attempt, st.Control = attempt, attempt == 0
		prevFailed = !st.Met
		res.Steps = append(res.Steps, st)
		if cfg.OnStep != nil {
			cfg.OnStep(st)
		}
		return st, nil
	}
	// try runs steps at rate until one meets the target, at most
	// 1+Retries; if all fail, a control at met (if any) confirms the
	// failure, or voids it and the rate is tried again. It reports
	// whether the rate met, or failed, or neither before the budget was
	// spent.
	try := func(rate float64) (verdict, error) {
		voided := false
		for {
			for a := 1; a <= 1+cfg.Retries; a++ {
				if n >= cfg.Steps {
					return undecided, nil
				}
				st, err := step(rate, a)
				if err != nil {
					return undecided, err
				}
				if st.Met {
					return metTarget, nil
				}
			}
			if met == 0 || voided {
				// Nothing to control against (the start rate), or the
				// rate's failures were voided once already.
				return failedTarget, nil
			}
			if n >= cfg.Steps {
				return undecided, nil
			}
			ctl, err := step(controlRate(cfg, met), 0)
			if err != nil {
				return undecided, err
			}
			if ctl.Met {
				return failedTarget, nil
			}
			res.Noisy++
			voided = true
		}
	}
	for {
		v, err := try(rate)
		if err != nil {
			return res, err
		}
		if v == undecided {
			// The budget ran out before the rate was met or its failure
			// confirmed; steps at it failed all the same.
			res.Outcome, res.Unconfirmed = FindBudget, rate
			if met == 0 {
				res.Outcome, res.Failed = FindStartFailed, rate
			}
			return res, nil
		}
		// Every rate tried after the probe lies between met and failed,
		// so the interval only narrows, whatever a noisy step says.
		if v == metTarget {
			met = rate
		} else {
			failed = rate
		}
		res.Rate, res.Met, res.Failed = met, met, failed
		var next float64
		switch {
		case met == 0:
			res.Outcome = FindStartFailed
			return res, nil
		case failed == 0:
			// Probing upward.
			if rate >= cfg.Max {
				res.Outcome = FindNoCeiling
				return res, nil
			}
			next = min(2*rate, cfg.Max)
		default:
			if res.Width() <= cfg.Precision {
				res.Outcome = FindFound
				return res, nil
			}
			next = roundRate((met + failed) / 2)
			if next <= met || next >= failed {
				// The rates are as close as their resolution allows.
				res.Outcome = FindFound
				return res, nil
			}
		}
		if n >= cfg.Steps {
			res.Outcome = FindBudget
			if failed == 0 {
				res.Outcome = FindNoCeiling
			}
			return res, nil
		}
		rate = next
	}
}

// controlRate is the rate of a control step when met is the highest rate
// met: half of it (not below the start rate, which met), so that the
// server has room to spare. A control at met itself would be marginal
// once the bisection nears the ceiling: a rate that met by a hair fails
// as often as not, and its failures would be taken for the machine's.
func controlRate(cfg FindConfig, met float64) float64 {
	return max(roundRate(met/2), min(cfg.Start, met))
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verdict is what the steps at one rate decided.
type verdict int

const (
	undecided    verdict = iota // the budget ran out first
	metTarget                   // a step met the target
	failedTarget                // every step failed, and the control met (or there was none)
)

// roundRate rounds r to three significant digits (a whole number from 100
// up to 999, then 1010, 1020…): finer rates are not told apart by a step
// of a few seconds, and round rates name the steps' directories.
func roundRate(r float64) float64 {
	if r <= 0 {
		return r
	}
	scale := math.Pow(10, math.Floor(math.Log10(r))-2)
	return math.Round(r/scale) * scale
}

// judgeStep decides whether step n at rate met the target, and why not.
func judgeStep(cfg FindConfig, n int, rate float64, s Summary) (FindStep, error) {
	st := FindStep{
		N: n, Rate: rate, Achieved: s.AchievedRate, P50Us: s.Corrected.P50Us, P99Us: s.Corrected.P99Us,
		Due: s.Due, Errors: s.ErrorsTotal, Unsent: s.Unsent, Unfinished: s.Unfinished, Late: s.Late,
	}
	rs, err := CheckThresholds(cfg.Criteria, s)
	if err != nil {
		return st, err
	}
	st.Thresholds = rs
	bounded := map[string]bool{}
	for _, t := range cfg.Criteria {
		bounded[t.Metric] = true
		if t.IsLatency() && st.TargetUs == 0 {
			if h, err := s.Corrected.Decode(); err == nil && h.TotalCount() > 0 {
				st.TargetUs = t.latency(h) / 1e3
			}
		}
	}
	for _, r := range Crossed(rs) {
		st.Failed = append(st.Failed, fmt.Sprintf("%s (%s)", r.Expr, r.Value))
	}
	// The honesty rules: what a criterion does not bound must not happen.
	if s.ErrorsTotal > 0 && !bounded["errors"] {
		st.Failed = append(st.Failed, fmt.Sprintf("%d failed", s.ErrorsTotal))
	}
	if s.Unsent > 0 && !bounded["unsent"] {
		st.Failed = append(st.Failed, fmt.Sprintf("%d unsent", s.Unsent))
	}
	if s.Unfinished > 0 && !bounded["unfinished"] {
		st.Failed = append(st.Failed, fmt.Sprintf("%d unfinished", s.Unfinished))
	}
	if s.Connecting > 0 {
		st.Failed = append(st.Failed, fmt.Sprintf("%d connects unfinished", s.Connecting))
	}
	if s.Requests == 0 {
		st.Failed = append(st.Failed, "no request answered")
	}
	st.Met = len(st.Failed) == 0
	return st, nil
}
