package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSteps memoizes fakeStep: encoding a histogram is most of a fake
// step's cost (under -race, most of the search tests' time), and the
// searches run the same rates over and over.
var fakeSteps sync.Map // fakeKey → Summary

type fakeKey struct {
	rate         float64
	latency      time.Duration
	errs, unsent int64
}

// fakeStep is the summary of a step at rate whose every request took
// latency, answered all but the given counts. Callers must not modify it.
func fakeStep(rate float64, latency time.Duration, errs, unsent int64) Summary {
	k := fakeKey{rate, latency, errs, unsent}
	if s, ok := fakeSteps.Load(k); ok {
		return s.(Summary)
	}
	s := newFakeStep(rate, latency, errs, unsent)
	fakeSteps.Store(k, s)
	return s
}

func newFakeStep(rate float64, latency time.Duration, errs, unsent int64) Summary {
	h := NewHistogram()
	const d = 3 // seconds
	due := int64(rate * d)
	answered := due - errs - unsent
	h.RecordValues(int64(latency), answered)
	s := Summary{
		RequestedRate: rate, Requests: answered, ErrorsTotal: errs, Unsent: unsent,
		AchievedRate: float64(answered) / d, Corrected: LatencyOf(h), Errors: map[string]int64{},
	}
	s.Account()
	return s
}

// capacity is a server that answers in 1ms up to capacity requests per
// second and in 100ms past it.
func capacity(capacity float64) StepRunner {
	return func(_ context.Context, _ int, rate float64) (Summary, error) {
		lat := time.Millisecond
		if rate > capacity {
			lat = 100 * time.Millisecond
		}
		return fakeStep(rate, lat, 0, 0), nil
	}
}

func mustThresholds(t *testing.T, exprs ...string) []Threshold {
	t.Helper()
	var ts []Threshold
	for _, e := range exprs {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	return ts
}

// TestFindMonotone: against a server whose latency breaks past X, the
// search ends with X inside its interval, the interval within the
// precision, having probed by doubling and then bisected.
func TestFindMonotone(t *testing.T) {
	for _, x := range []float64{150, 200, 777, 1000, 12345, 99999} {
		var seen []float64
		res, err := Find(context.Background(), FindConfig{
			Criteria: mustThresholds(t, "p99<10ms"),
			OnStep:   func(s FindStep) { seen = append(seen, s.Rate) },
		}, capacity(x))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != FindFound || !(res.Met <= x && x < res.Failed) || res.Rate != res.Met {
			t.Errorf("capacity %g: %s, rate %g in [%g, %g); want %g inside, found", x, res.Outcome, res.Rate, res.Met, res.Failed, x)
		}
		if w := res.Width(); w > DefaultFindPrecision && res.Failed-res.Met > 0.01*res.Met {
			t.Errorf("capacity %g: interval [%g, %g] is %.1f%% wide, more than the precision", x, res.Met, res.Failed, 100*w)
		}
		if len(seen) != len(res.Steps) || len(res.Steps) > DefaultFindSteps {
			t.Errorf("capacity %g: %d steps reported as they went, %d in the result", x, len(seen), len(res.Steps))
		}
		// The probe doubles from the start until a step fails.
		for i := 1; i < len(seen) && seen[i-1] <= x; i++ {
			if seen[i] != 2*seen[i-1] {
				t.Errorf("capacity %g: probe %v does not double from %d", x, seen, DefaultFindStart)
				break
			}
		}
		if res.TargetMetric != "p99" || res.TargetBoundUs != 10000 || math.Abs(res.Steps[0].TargetUs-1000) > 1 {
			t.Errorf("capacity %g: target %s < %gus, first step's value %gus; want p99 < 10000us, 1000us", x, res.TargetMetric, res.TargetBoundUs, res.Steps[0].TargetUs)
		}
	}
}

// TestFindNoise: a server whose verdict is random within 10% of its
// capacity leaves the search with a met rate below a failed one, both
// within that band's reach.
func TestFindNoise(t *testing.T) {
	const x = 5000.0
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		run := func(_ context.Context, _ int, rate float64) (Summary, error) {
			ok := rate < 0.9*x || rate <= 1.1*x && rng.IntN(2) == 0
			lat := time.Millisecond
			if !ok {
				lat = time.Second
			}
			return fakeStep(rate, lat, 0, 0), nil
		}
		res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms")}, run)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != FindFound || !(res.Met < res.Failed) || res.Met > 1.1*x || res.Failed < 0.9*x || res.Met < 0.9*x/(1+DefaultFindPrecision) {
			t.Fatalf("seed %d: %s [%g, %g]; want found, met ≤ 1.1x and failed ≥ 0.9x of %g", seed, res.Outcome, res.Met, res.Failed, x)
		}
		checkSteps(t, res)
	}
}

// checkSteps checks that res's steps bear out its interval: no step met
// above the rate found, and the failure that sets its upper end was
// confirmed by a control that met right after it; every failed control
// voided the failures before it, which were tried again.
func checkSteps(t *testing.T, res FindResult) {
	t.Helper()
	noisy := 0
	for i, s := range res.Steps {
		if s.Met && s.Rate > res.Met {
			t.Fatalf("step %d at %g met, above the rate found %g", s.N, s.Rate, res.Met)
		}
		if s.Control {
			if s.Rate > res.Met || i == 0 || res.Steps[i-1].Met {
				t.Fatalf("step %d: a control at %g after %+v; want one at a rate met, after a failure", s.N, s.Rate, res.Steps[i-1])
			}
			if !s.Met {
				noisy++
			}
		}
	}
	if noisy != res.Noisy {
		t.Fatalf("%d controls failed, the result says %d", noisy, res.Noisy)
	}
	if res.Failed > 0 && res.Met > 0 {
		// Confirmed: a control met right after the rate's failures, or
		// the rate failed again after a control voided its failures.
		confirmed, voided := false, false
		for i, s := range res.Steps[1:] {
			prev := res.Steps[i]
			switch {
			case s.Control && prev.Rate == res.Failed:
				confirmed = confirmed || s.Met
				voided = voided || !s.Met
			case !s.Control && s.Rate == res.Failed && voided && !s.Met:
				confirmed = true
			}
		}
		if !confirmed {
			t.Fatalf("the rate that failed, %g, was not confirmed", res.Failed)
		}
	}
}

// TestFindEnds: the other ways a search ends, each said as such.
func TestFindEnds(t *testing.T) {
	tests := []struct {
		name           string
		cfg            FindConfig
		run            StepRunner
		outcome        string
		rate, failed   float64
		steps          int
		describeSubstr string
	}{
		{name: "start rate fails", cfg: FindConfig{Start: 500}, run: capacity(100),
			outcome: FindStartFailed, rate: 0, failed: 500, steps: 1, describeSubstr: "even the start rate, 500 req/s"},
		{name: "budget spent while probing", cfg: FindConfig{Steps: 5}, run: capacity(1e9),
			outcome: FindNoCeiling, rate: 1600, steps: 5, describeSubstr: "no ceiling found"},
		{name: "highest rate reached", cfg: FindConfig{Max: 1000}, run: capacity(1e9),
			outcome: FindNoCeiling, rate: 1000, steps: 5, describeSubstr: "up to 1000 req/s"},
		// 100 met, 200 failed, control 100 met; 150 failed, control
		// met; 125 met; the budget is spent.
		{name: "budget spent while bisecting", cfg: FindConfig{Steps: 6}, run: capacity(130),
			outcome: FindBudget, rate: 125, failed: 150, steps: 6, describeSubstr: "step budget of 6 spent: 125 req/s met p99<10ms, 150 did not"},
		// 100 met, 200 failed, and the budget is spent before the control.
		{name: "budget spent before a control", cfg: FindConfig{Steps: 2}, run: capacity(130),
			outcome: FindBudget, rate: 100, failed: 0, steps: 2, describeSubstr: "200 req/s did not, but the budget ran out before a control step"},
		{name: "resolution reached", cfg: FindConfig{Start: 100, Precision: 0.001}, run: capacity(150),
			outcome: FindFound, rate: 150, failed: 151, steps: 16, describeSubstr: "found 150 req/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Criteria = mustThresholds(t, "p99<10ms")
			res, err := Find(context.Background(), tc.cfg, tc.run)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome || res.Rate != tc.rate || res.Failed != tc.failed || len(res.Steps) != tc.steps {
				t.Errorf("%s, rate %g, failed %g, %d steps; want %s, %g, %g, %d", res.Outcome, res.Rate, res.Failed, len(res.Steps), tc.outcome, tc.rate, tc.failed, tc.steps)
			}
			if d := res.Describe(); !strings.Contains(d, tc.describeSubstr) {
				t.Errorf("Describe() = %q, want it to say %q", d, tc.describeSubstr)
			}
			checkSteps(t, res)
		})
	}
}

// TestFindHonesty: a step whose latency meets the criteria but which did
// not serve every request, or achieved well under its rate, does not meet
// the target, unless a criterion bounds what it left undone.
func TestFindHonesty(t *testing.T) {
	fast := time.Millisecond
	tests := []struct {
		name     string
		criteria []string
		summary  Summary
		met      bool
		reason   string
	}{
		{name: "all served", criteria: []string{"p99<10ms"}, summary: fakeStep(1000, fast, 0, 0), met: true},
		{name: "failed requests", criteria: []string{"p99<10ms"}, summary: fakeStep(1000, fast, 2, 0), reason: "2 failed"},
		{name: "failed within an errors criterion", criteria: []string{"p99<10ms", "errors<0.1%"}, summary: fakeStep(1000, fast, 2, 0), met: true},
		{name: "failed past an errors criterion", criteria: []string{"p99<10ms", "errors<0.01%"}, summary: fakeStep(1000, fast, 2, 0), reason: "errors<0.01%"},
		{name: "unsent", criteria: []string{"p99<10ms", "errors<1%"}, summary: fakeStep(1000, fast, 0, 5), reason: "5 unsent"},
		{name: "unfinished", criteria: []string{"p99<10ms"}, summary: func() Summary {
			s := fakeStep(1000, fast, 0, 0)
			s.Unfinished = 1
			return s
		}(), reason: "1 unfinished"},
		{name: "connects pending", criteria: []string{"p99<10ms"}, summary: func() Summary {
			s := fakeStep(1000, fast, 0, 0)
			s.Connecting = 3
			return s
		}(), reason: "3 connects unfinished"},
		{name: "achieved under a rate criterion", criteria: []string{"p99<10ms", "rate>=0.9*requested"}, summary: func() Summary {
			s := fakeStep(1000, fast, 0, 0)
			s.AchievedRate = 700
			return s
		}(), reason: "rate>=0.9*requested"},
		{name: "achieved within a rate criterion", criteria: []string{"p99<10ms", "rate>=0.5*requested"}, summary: func() Summary {
			s := fakeStep(1000, fast, 0, 0)
			s.AchievedRate = 700
			return s
		}(), met: true},
		{name: "nothing answered", criteria: []string{"errors<=100%"}, summary: fakeStep(1000, fast, 3000, 0), reason: "no request answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(context.Context, int, float64) (Summary, error) { return tc.summary, nil }
			res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, tc.criteria...), Start: 1000, Max: 1000}, run)
			if err != nil {
				t.Fatal(err)
			}
			st := res.Steps[0]
			if st.Met != tc.met || !tc.met && !strings.Contains(strings.Join(st.Failed, "; "), tc.reason) {
				t.Errorf("met %v, reasons %q; want met %v, a reason saying %q", st.Met, st.Failed, tc.met, tc.reason)
			}
		})
	}
}

// TestFindRetries: with retries, a rate whose first run failed (a stall
// of a shared machine) is run again and met; a rate past the capacity
// fails every run; each run counts against the budget.
func TestFindRetries(t *testing.T) {
	const x = 1000.0
	tries := map[float64]int{}
	run := func(_ context.Context, _ int, rate float64) (Summary, error) {
		tries[rate]++
		lat := time.Millisecond
		if rate > x || tries[rate] == 1 {
			lat = time.Second
		}
		return fakeStep(rate, lat, 0, 0), nil
	}
	res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 2}, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != FindFound || !(res.Met <= x && x < res.Failed) {
		t.Fatalf("%s [%g, %g); want found around %g", res.Outcome, res.Met, res.Failed, x)
	}
	checkSteps(t, res)
	runs := map[float64]int{} // runs at each rate, controls aside
	for _, s := range res.Steps {
		if !s.Control {
			runs[s.Rate]++
		}
	}
	// A control's rate is new to the server, so its first run fails
	// too, and voids the failures before it once.
	voided := map[float64]bool{}
	for i, s := range res.Steps {
		if s.Control && !s.Met {
			voided[res.Steps[i-1].Rate] = true
		}
	}
	for rate, n := range runs {
		want := 2
		if rate > x {
			want = 3
			if voided[rate] {
				want = 6
			}
		}
		if n != want {
			t.Errorf("%g req/s run %d times, want %d", rate, n, want)
		}
	}
	// The budget counts every run: two rates of three runs each.
	clear(tries)
	res, err = Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 2, Steps: 5, Start: 2000}, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != FindStartFailed || len(res.Steps) != 3 {
		t.Errorf("%s after %d runs; want start-failed after 3", res.Outcome, len(res.Steps))
	}
	clear(tries)
	res, err = Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 2, Steps: 5, Start: 400}, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != FindBudget || len(res.Steps) != 5 || res.Rate != 800 || res.Failed != 0 || res.Unconfirmed != 1600 {
		t.Errorf("%s at [%g, %g) (unconfirmed %g) after %d runs; want budget spent with 800 met and 1600 unconfirmed after 5 (400 twice, 800 twice, 1600 once)", res.Outcome, res.Rate, res.Failed, res.Unconfirmed, len(res.Steps))
	}
}

// TestFindControlVoidsNoise: a burst of noise that fails every step for a
// while, whatever its rate, would end a search low; the control at the
// rate met fails in the burst too, so the failures are void and the
// search, tried again after the burst, finds the server's capacity.
func TestFindControlVoidsNoise(t *testing.T) {
	const x = 10000.0
	for burst := 2; burst <= 12; burst++ {
		// Steps burst to burst+2 fail, whatever the rate.
		run := func(_ context.Context, n int, rate float64) (Summary, error) {
			lat := time.Millisecond
			if rate > x || n >= burst && n <= burst+2 {
				lat = time.Second
			}
			return fakeStep(rate, lat, 0, 0), nil
		}
		res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 1}, run)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != FindFound || !(res.Met <= x && x < res.Failed) {
			t.Errorf("burst at step %d: %s [%g, %g); want found around %g", burst, res.Outcome, res.Met, res.Failed, x)
		}
		if res.Noisy == 0 && burst > 1 {
			t.Errorf("burst at step %d: no control failed", burst)
		}
		if !strings.Contains(res.Describe(), "control steps failed at half a rate the server had met") {
			t.Errorf("burst at step %d: Describe() = %q, want it to say the controls failed", burst, res.Describe())
		}
		checkSteps(t, res)
	}
	// A machine noisy for good: every step fails from the fourth on. A
	// rate's failures are voided once, then count: 800 (steps 4-5, the
	// control at 200 fails, 7-8) fails; 600 (9-10, the control fails, 12)
	// is left unconfirmed by the budget.
	run := func(_ context.Context, n int, rate float64) (Summary, error) {
		lat := time.Millisecond
		if n > 3 {
			lat = time.Second
		}
		return fakeStep(rate, lat, 0, 0), nil
	}
	res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 1, Steps: 12}, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != FindBudget || res.Rate != 400 || res.Failed != 800 || res.Unconfirmed != 600 || res.Noisy != 2 {
		t.Errorf("%s, %g met, %g failed, %g unconfirmed, %d controls failed; want budget, 400 met, 800 failed, 600 unconfirmed, 2 controls failed", res.Outcome, res.Rate, res.Failed, res.Unconfirmed, res.Noisy)
	}
	for _, s := range res.Steps {
		if s.Control && s.Rate != 200 {
			t.Errorf("step %d: control at %g, want 200 (half of 400, the highest rate met)", s.N, s.Rate)
		}
	}
	checkSteps(t, res)
}

// TestFindStopsOnError: a step that cannot run ends the search with the
// steps so far.
func TestFindStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	run := func(_ context.Context, n int, rate float64) (Summary, error) {
		if n == 3 {
			return Summary{}, boom
		}
		return fakeStep(rate, time.Millisecond, 0, 0), nil
	}
	res, err := Find(context.Background(), FindConfig{Criteria: mustThresholds(t, "p99<1s")}, run)
	if !errors.Is(err, boom) || len(res.Steps) != 2 || !strings.Contains(err.Error(), "step 3 at 400 req/s") {
		t.Errorf("err %v, %d steps; want boom at step 3 (400 req/s), 2 steps", err, len(res.Steps))
	}
}

func TestFindConfigErrors(t *testing.T) {
	crit := mustThresholds(t, "p99<1ms")
	for _, c := range []FindConfig{
		{},
		{Criteria: crit, Start: -1},
		{Criteria: crit, Start: math.Inf(1)},
		{Criteria: crit, Start: 100, Max: 50},
		{Criteria: crit, Precision: 1},
		{Criteria: crit, Precision: -0.1},
		{Criteria: crit, Steps: 1},
		{Criteria: crit, Retries: -1},
		{Criteria: crit, Cooldown: -time.Second},
	} {
		if err := c.Validate(); !errors.Is(err, ErrFind) {
			t.Errorf("%+v: %v, want ErrFind", c, err)
		}
	}
}

func TestRoundRate(t *testing.T) {
	for in, want := range map[float64]float64{150: 150, 187.5: 188, 193.75: 194, 1234.5: 1230, 0.1234: 0.123, 7: 7} {
		if got := roundRate(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("roundRate(%g) = %g, want %g", in, got, want)
		}
	}
	if d := StepDir(3, 400); d != "step-03-400rps" {
		t.Errorf("StepDir(3, 400) = %q", d)
	}
}

// TestFindCooldown: the search pauses before every step that follows one
// that failed, and only then, so a server drains the backlog an
// overloaded step left before the next step measures it; a search
// cancelled in a pause ends with the context's error.
func TestFindCooldown(t *testing.T) {
	var log []string
	cfg := FindConfig{Criteria: mustThresholds(t, "p99<10ms"), Retries: 1, Cooldown: 4 * time.Second,
		sleep: func(_ context.Context, d time.Duration) error {
			log = append(log, "pause "+d.String())
			return nil
		},
		OnStep: func(s FindStep) { log = append(log, fmt.Sprintf("%g %v", s.Rate, s.Met)) },
	}
	res, err := Find(context.Background(), cfg, capacity(150))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range log {
		paused := strings.HasPrefix(e, "pause")
		afterFail := i > 0 && strings.HasSuffix(log[i-1], "false")
		if paused != afterFail || paused && e != "pause 4s" {
			t.Fatalf("%q at %d of %q: want a 4s pause exactly after each failed step", e, i, log)
		}
	}
	if last := log[len(log)-1]; strings.HasPrefix(last, "pause") || res.Outcome != FindFound {
		t.Fatalf("%s, log %q: want found, and no pause after the last step", res.Outcome, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepCtx(ctx, time.Hour)
	}
	cfg.OnStep = nil
	if _, err := Find(ctx, cfg, capacity(150)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled in a pause: %v, want context.Canceled", err)
	}
}
