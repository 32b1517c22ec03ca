package loadgen

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Thresholds: pass conditions over a run's summary, for CI (k6's thresholds,
// Nighthawk's failure predicates). An expression is METRIC OP BOUND:
//
//	p99<2ms  p99.9<=10ms  max<1s  mean<500us  latency (corrected histogram)
//	errors<0.1%  unsent<1  late<=5%            counts, or shares of due
//	rate>=0.95*requested  rate>900             achieved rate
//
// Latencies are read from the corrected histogram, which holds timeouts and
// the ages of unfinished and unsent requests, so a threshold cannot be met
// by a server that leaves requests waiting. A latency bound takes a unit
// (ns, us, µs, ms, s, as Go durations are written); a count bound is a
// number of requests, or with % a share of the due requests; a rate bound
// is requests per second, or a factor of the requested rate.

// Threshold is one parsed threshold expression.
type Threshold struct {
	// Expr is the expression as given.
	Expr string
	// Metric is what is compared: pN (a percentile), max, mean, errors,
	// unsent, unfinished, late or rate.
	Metric string
	// Op is <, <=, > or >=.
	Op string
	// Bound is the right-hand side: nanoseconds for a latency, a count or
	// (Share) a fraction of the due requests, requests per second or
	// (OfRequested) a factor of the requested rate.
	Bound       float64
	Share       bool
	OfRequested bool

	percentile float64 // for pN
}

// ThresholdResult is a threshold's outcome on one run.
type ThresholdResult struct {
	Expr string `json:"expr"`
	// Value is the measured value, in the threshold's terms.
	Value   string `json:"value"`
	Crossed bool   `json:"crossed"`
}

// ErrThreshold is returned for an expression that does not parse.
var ErrThreshold = errors.New("bad threshold")

// thresholdMetrics are the metrics besides pN, with their kind.
var thresholdMetrics = map[string]string{
	"max": "latency", "mean": "latency",
	"errors": "count", "unsent": "count", "unfinished": "count", "late": "count",
	"rate": "rate",
}

// ParseThreshold parses an expression such as "p99<2ms", "errors<0.1%" or
// "rate>=0.95*requested".
func ParseThreshold(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	bad := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%w %q: %s", ErrThreshold, expr, fmt.Sprintf(format, args...))
	}
	i := strings.IndexAny(expr, "<>")
	if i < 0 {
		return bad("no operator: want METRIC OP BOUND with OP one of < <= > >=, like p99<2ms")
	}
	t.Metric = strings.ToLower(strings.TrimSpace(expr[:i]))
	t.Op = expr[i : i+1]
	rest := expr[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return bad("no bound after %s", t.Op)
	}
	if strings.ContainsAny(rest, "<>=") {
		return bad("one operator only")
	}
	kind := thresholdMetrics[t.Metric]
	if kind == "" && strings.HasPrefix(t.Metric, "p") {
		p, err := parseNonNegative(t.Metric[1:])
		if err != nil || !(p > 0 && p <= 100) {
			return bad("percentile %q: want p50, p90, p99, p99.9… (above 0, at most 100)", t.Metric)
		}
		t.percentile = p
		kind = "latency"
	}
	switch kind {
	case "latency":
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 || !hasUnit(rest) {
			return bad("latency bound %q: want a duration with its unit, like 2ms, 500us or 1.5s", rest)
		}
		t.Bound = float64(d)
	case "count":
		num := rest
		if strings.HasSuffix(rest, "%") {
			t.Share = true
			num = strings.TrimSpace(strings.TrimSuffix(rest, "%"))
		}
		v, err := parseNonNegative(num)
		if err != nil || t.Share && v > 100 {
			return bad("%s bound %q: want a count, like 0, or a share of the due requests, like 0.1%%", t.Metric, rest)
		}
		if t.Share {
			v /= 100
		}
		t.Bound = v
	case "rate":
		num := strings.ReplaceAll(rest, " ", "")
		if f, ok := strings.CutSuffix(num, "*requested"); ok {
			t.OfRequested, num = true, f
		} else if f, ok := strings.CutPrefix(num, "requested*"); ok {
			t.OfRequested, num = true, f
		} else if num == "requested" {
			t.OfRequested, num = true, "1"
		}
		v, err := parseNonNegative(num)
		if err != nil {
			return bad("rate bound %q: want requests per second, like 900, or a share of the requested rate, like 0.95*requested", rest)
		}
		t.Bound = v
	default:
		return bad("unknown metric %q (valid: p50, p90, p99, p99.9…, max, mean, errors, unsent, unfinished, late, rate)", t.Metric)
	}
	return t, nil
}

func hasUnit(s string) bool { return strings.TrimRight(s, "0123456789.") != "" }

// parseNonNegative parses a plain decimal number: digits and a point, no
// sign, exponent, hexadecimal, infinity or NaN.
func parseNonNegative(s string) (float64, error) {
	if s == "" || strings.Trim(s, "0123456789.") != "" {
		return 0, fmt.Errorf("%w: %q is not a non-negative number", ErrThreshold, s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %q is not a non-negative number", ErrThreshold, s)
	}
	return v, nil
}

// String returns the expression as given.
func (t Threshold) String() string { return t.Expr }

// NeedsRequested reports whether the threshold compares with the requested
// rate, which only an open loop has.
func (t Threshold) NeedsRequested() bool { return t.OfRequested }

func (t Threshold) holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Bound
	case "<=":
		return v <= t.Bound
	case ">":
		return v > t.Bound
	}
	return v >= t.Bound
}

// IsLatency reports whether the threshold bounds a latency (pN, max or
// mean), in nanoseconds.
func (t Threshold) IsLatency() bool {
	return t.percentile > 0 || t.Metric == "max" || t.Metric == "mean"
}

// latency is the value of a latency threshold's metric in h (nanoseconds).
func (t Threshold) latency(h *hdr.Histogram) float64 {
	switch t.Metric {
	case "max":
		return float64(h.Max())
	case "mean":
		return h.Mean()
	}
	return float64(h.ValueAtPercentile(t.percentile))
}

// CheckThresholds evaluates ts on s, in order. A threshold that compares
// with the requested rate does not apply to a closed loop, which has none,
// and is left out (a benchmark matrix has both kinds of run).
func CheckThresholds(ts []Threshold, s Summary) ([]ThresholdResult, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	h, err := s.Corrected.Decode()
	if err != nil {
		return nil, fmt.Errorf("check thresholds: %w", err)
	}
	out := make([]ThresholdResult, 0, len(ts))
	for _, t := range ts {
		if t.OfRequested && s.RequestedRate <= 0 {
			continue
		}
		r := ThresholdResult{Expr: t.Expr}
		var v float64
		switch t.Metric {
		case "errors", "unsent", "unfinished", "late":
			n := map[string]int64{"errors": s.ErrorsTotal, "unsent": s.Unsent, "unfinished": s.Unfinished, "late": s.Late}[t.Metric]
			v = float64(n)
			r.Value = fmt.Sprintf("%s %d", t.Metric, n)
			if t.Share {
				v = 0
				if s.Due > 0 {
					v = float64(n) / float64(s.Due)
				}
				r.Value = fmt.Sprintf("%s %.3g%% (%d of %d due)", t.Metric, 100*v, n, s.Due)
			}
		case "rate":
			v = s.AchievedRate
			bound := t.Bound
			if t.OfRequested {
				bound *= s.RequestedRate
			}
			r.Value = fmt.Sprintf("rate %.1f/s", v)
			if s.RequestedRate > 0 {
				r.Value += fmt.Sprintf(" (requested %g/s)", s.RequestedRate)
			}
			t.Bound = bound
		default:
			if h.TotalCount() == 0 {
				// No latency at all: nothing shows the bound is met.
				r.Value, r.Crossed = t.Metric+" of no values", true
				out = append(out, r)
				continue
			}
			v = t.latency(h)
			r.Value = t.Metric + " " + FormatDuration(v/1e3)
		}
		r.Crossed = !t.holds(v)
		out = append(out, r)
	}
	return out, nil
}

// Crossed returns the thresholds among rs that were crossed.
func Crossed(rs []ThresholdResult) []ThresholdResult {
	var out []ThresholdResult
	for _, r := range rs {
		if r.Crossed {
			out = append(out, r)
		}
	}
	return out
}
