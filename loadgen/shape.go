package loadgen

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// A Shape is the open loop's requested rate over time (Config.Rate): a
// constant rate ("2000"), a linear ramp ("100..20000/30s": from 100 to
// 20 000 requests per second over 30 s) or steps ("1000,2000,4000/10s":
// each rate for 10 s). Shape time 0 is the start of the measured part;
// during the warm-up the rate is the shape's first one, and after its
// length the shape holds its last rate. The zero Shape is no rate at all:
// a closed loop.
//
// The one schedule of due times follows the shape exactly: with N(t) the
// integral of the rate up to t (the requests due by t), request j (from 0)
// is due at the last instant at which N is still at most j, rounded down
// to the nanosecond (see Due). So the requests due in any interval [a, b)
// of whole nanoseconds number exactly ⌈N(b)⌉ − ⌈N(a)⌉, whatever the shape,
// and a rate of 0 (a ramp from or to 0, a step of 0) sends nothing.
//
// A Shape is immutable; copies share their segments.
type Shape struct {
	spec   string
	length int64 // ns
	segs   []segment
}

// segment is one piece of a shape: a rate constant or linear over
// [start, start+length) ns, the last one holding for ever (length 0).
type segment struct {
	start, length int64
	from, to      float64  // rates (requests/s) at its start and end
	count         *big.Rat // N(start), exactly
	countF        float64  // N(start), as a float
	endF          float64  // N(end), as a float
	// ceilEnd is ⌈N(end)⌉: the requests j < ceilEnd are due before the
	// segment's end (math.MaxInt64 for a last segment of positive rate).
	ceilEnd int64
}

// ErrShape is wrapped by the error of a rate shape that does not parse.
var ErrShape = errors.New("bad rate")

// Constant returns the shape of a constant rate of r requests per second
// (the zero Shape, a closed loop, for 0). It panics for a negative, NaN or
// infinite r: ParseShape checks a rate a person wrote.
func Constant(r float64) Shape {
	if r == 0 {
		return Shape{}
	}
	if err := checkRate(r); err != nil {
		panic(fmt.Sprintf("loadgen: %v", err))
	}
	return build(formatRate(r), []float64{r}, 0, false)
}

// ParseShape parses a rate shape: a rate ("2000"), a ramp
// ("FROM..TO/DURATION") or steps ("R1,R2,…/DURATION", each rate for
// DURATION). Rates are requests per second, positive or 0, at least one
// positive; durations are Go durations (like 30s, 1m30s) of 1ms at least.
func ParseShape(s string) (Shape, error) {
	s = strings.TrimSpace(s)
	body, dur, timed := strings.Cut(s, "/")
	isRamp := strings.Contains(body, "..")
	switch {
	case s == "":
		return Shape{}, fmt.Errorf("%w: empty: want a rate like 2000, a ramp like 100..2000/30s or steps like 500,1000,2000/10s", ErrShape)
	case !timed && isRamp:
		return Shape{}, fmt.Errorf("%w %q: a ramp needs its duration, like %s/30s", ErrShape, s, body)
	case !timed && strings.Contains(body, ","):
		return Shape{}, fmt.Errorf("%w %q: steps need the duration of each, like %s/10s", ErrShape, s, body)
	case !timed:
		r, err := parseRate(s, body)
		if err != nil {
			return Shape{}, err
		}
		if r == 0 {
			return Shape{}, fmt.Errorf("%w %q: a rate must be positive (no --rate is a closed loop)", ErrShape, s)
		}
		return Constant(r), nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(dur))
	switch {
	case err != nil:
		return Shape{}, fmt.Errorf("%w %q: duration %q: %w", ErrShape, s, dur, err)
	case d < time.Millisecond:
		return Shape{}, fmt.Errorf("%w %q: duration %v: want 1ms at least", ErrShape, s, d)
	}
	var rates []float64
	if isRamp {
		from, to, _ := strings.Cut(body, "..")
		for _, f := range []string{from, to} {
			r, err := parseRate(s, f)
			if err != nil {
				return Shape{}, err
			}
			rates = append(rates, r)
		}
	} else {
		for f := range strings.SplitSeq(body, ",") {
			r, err := parseRate(s, f)
			if err != nil {
				return Shape{}, err
			}
			rates = append(rates, r)
		}
		if len(rates) > 1000 {
			return Shape{}, fmt.Errorf("%w %q: %d steps: at most 1000", ErrShape, s, len(rates))
		}
		if int64(d) > math.MaxInt64/4/int64(len(rates)) {
			return Shape{}, fmt.Errorf("%w %q: longer than a run can be", ErrShape, s)
		}
	}
	if !slicesAny(rates, func(r float64) bool { return r > 0 }) {
		return Shape{}, fmt.Errorf("%w %q: every rate is 0: nothing would be sent", ErrShape, s)
	}
	spec := formatRate(rates[0]) + ".." + formatRate(rates[len(rates)-1]) + "/" + d.String()
	if !isRamp {
		parts := make([]string, len(rates))
		for i, r := range rates {
			parts[i] = formatRate(r)
		}
		spec = strings.Join(parts, ",") + "/" + d.String()
	}
	return build(spec, rates, int64(d), isRamp), nil
}

func slicesAny(rs []float64, f func(float64) bool) bool {
	for _, r := range rs {
		if f(r) {
			return true
		}
	}
	return false
}

// parseRate parses one rate of the shape s.
func parseRate(s, f string) (float64, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return 0, fmt.Errorf("%w %q: a rate is missing", ErrShape, s)
	}
	r, err := strconv.ParseFloat(f, 64)
	if err != nil || checkRate(r) != nil {
		return 0, fmt.Errorf("%w %q: %s is not a number of requests per second from 0 to %g", ErrShape, s, f, float64(MaxRate))
	}
	return r, nil
}

// MaxRate bounds every rate of a shape: a billion requests per second is
// past any load generator, and keeps the schedule's arithmetic exact.
const MaxRate = 1e9

func checkRate(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > MaxRate {
		return fmt.Errorf("rate %g: want a number of requests per second from 0 to %g", r, float64(MaxRate))
	}
	return nil
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

// build makes a shape of rates: one ramp from rates[0] to rates[1] over
// length ns, or steps of length ns each (a lone rate of length 0 is
// constant), then the last rate held.
func build(spec string, rates []float64, length int64, ramp bool) Shape {
	var segs []segment
	switch {
	case ramp:
		segs = append(segs, segment{length: length, from: rates[0], to: rates[1]})
	case length > 0:
		for _, r := range rates {
			segs = append(segs, segment{length: length, from: r, to: r})
		}
	}
	last := rates[len(rates)-1]
	segs = append(segs, segment{from: last, to: last})
	if !ramp {
		length *= int64(len(rates))
	}
	return Shape{spec: spec, length: length, segs: link(segs)}
}

// link sets each segment's start and counts from the lengths and rates,
// merging neighbouring constant segments of one rate.
func link(in []segment) []segment {
	var segs []segment
	for _, g := range in {
		if n := len(segs); n > 0 {
			p := &segs[n-1]
			if p.from == p.to && g.from == g.to && p.to == g.from {
				if g.length == 0 {
					p.length = 0
				} else {
					p.length += g.length
				}
				continue
			}
		}
		segs = append(segs, g)
	}
	var start int64
	count := new(big.Rat)
	for i := range segs {
		g := &segs[i]
		g.start = start
		g.count = count
		g.countF, _ = count.Float64()
		if g.length == 0 {
			g.ceilEnd = math.MaxInt64
			if g.from == 0 {
				g.ceilEnd = ceilRat(count)
			}
			break
		}
		start += g.length
		count = g.exactCount(start)
		g.ceilEnd = ceilRat(count)
		g.endF, _ = count.Float64()
	}
	return segs
}

// lead returns s with d ns of its first rate before it: the schedule of a
// run with a warm-up of d, whose shape time 0 is at d.
func (s Shape) lead(d int64) Shape {
	if d <= 0 || s.IsZero() {
		return s
	}
	segs := make([]segment, 0, len(s.segs)+1)
	first := s.segs[0].from
	segs = append(segs, segment{length: d, from: first, to: first})
	for _, g := range s.segs {
		segs = append(segs, segment{length: g.length, from: g.from, to: g.to})
	}
	return Shape{spec: s.spec, length: s.length, segs: link(segs)}
}

// IsZero reports whether s is no rate: a closed loop.
func (s Shape) IsZero() bool { return len(s.segs) == 0 }

// String returns the shape in the form ParseShape reads ("" for none).
func (s Shape) String() string { return s.spec }

// Set parses v into s (flag.Value).
func (s *Shape) Set(v string) error {
	p, err := ParseShape(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// IsConstant reports whether s is one rate throughout.
func (s Shape) IsConstant() bool { return len(s.segs) == 1 }

// Length returns how long the shape varies: 0 for a constant rate, the
// ramp's duration, or the steps' together. After it the last rate holds.
func (s Shape) Length() time.Duration {
	return time.Duration(s.length)
}

// First and Last return the shape's first and last rates.
func (s Shape) First() float64 {
	if s.IsZero() {
		return 0
	}
	return s.segs[0].from
}

// Last returns the rate the shape holds after its length.
func (s Shape) Last() float64 {
	if s.IsZero() {
		return 0
	}
	return s.segs[len(s.segs)-1].from
}

// Peak returns the highest rate the shape asks for.
func (s Shape) Peak() float64 {
	peak := 0.0
	for _, g := range s.segs {
		peak = max(peak, g.from, g.to)
	}
	return peak
}

// segAt returns the segment holding instant t ns (t ≥ 0).
func (s Shape) segAt(t int64) *segment {
	for i := range s.segs {
		g := &s.segs[i]
		if g.length == 0 || t < g.start+g.length {
			return g
		}
	}
	return &s.segs[len(s.segs)-1]
}

// RateAt returns the rate requested at shape time t (requests per second):
// the first rate before 0.
func (s Shape) RateAt(t time.Duration) float64 {
	if s.IsZero() {
		return 0
	}
	at := max(int64(t), 0)
	g := s.segAt(at)
	if g.length == 0 || g.from == g.to {
		return g.from
	}
	return g.from + (g.to-g.from)*float64(at-g.start)/float64(g.length)
}

// CountAt returns the integral of the rate from shape time 0 to t: the
// number of requests due before t, less than one away from the exact count
// (see CountBetween).
func (s Shape) CountAt(t time.Duration) float64 {
	if s.IsZero() || t <= 0 {
		return 0
	}
	g := s.segAt(int64(t))
	return g.countF + g.countF64(int64(t))
}

// countF64 returns the requests due from the segment's start to t ns.
func (g *segment) countF64(t int64) float64 {
	u := float64(t - g.start)
	if g.from == g.to {
		return g.from * u / 1e9
	}
	return (g.from*u + (g.to-g.from)*u*u/(2*float64(g.length))) / 1e9
}

var nsPerS = big.NewRat(1e9, 1)

// exactCount returns N(t) exactly, for t within the segment (or its end).
func (g *segment) exactCount(t int64) *big.Rat {
	u := new(big.Rat).SetInt64(t - g.start)
	n := new(big.Rat).SetFloat64(g.from)
	n.Mul(n, u)
	if g.from != g.to {
		k := new(big.Rat).SetFloat64(g.to)
		k.Sub(k, new(big.Rat).SetFloat64(g.from))
		k.Mul(k, u)
		k.Mul(k, u)
		k.Quo(k, new(big.Rat).SetInt64(2*g.length))
		n.Add(n, k)
	}
	n.Quo(n, nsPerS)
	return n.Add(n, g.count)
}

// ceilRat returns ⌈q⌉ for q ≥ 0 (math.MaxInt64 if it is larger).
func ceilRat(q *big.Rat) int64 {
	n, m := new(big.Int).QuoRem(q.Num(), q.Denom(), new(big.Int))
	if m.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}

// firstAt returns the index of the first request due at or after t ns:
// ⌈N(t)⌉, exactly.
func (s Shape) firstAt(t int64) int64 {
	if s.IsZero() || t <= 0 {
		return 0
	}
	g := s.segAt(t)
	return ceilRat(g.exactCount(t))
}

// CountBetween returns the number of requests due from shape time a to b,
// a ≤ b: ⌈N(b)⌉ − ⌈N(a)⌉, exactly.
func (s Shape) CountBetween(a, b time.Duration) int64 {
	return s.firstAt(int64(b)) - s.firstAt(int64(a))
}

// Due returns when request j (from 0) of the schedule is due, in shape
// time: the last instant x at which N(x) ≤ j, rounded down to the
// nanosecond, or math.MaxInt64 if the shape ends at rate 0 before it.
func (s Shape) Due(j int64) time.Duration { return time.Duration(s.dueNs(j)) }

func (s Shape) dueNs(j int64) int64 {
	if s.IsZero() || j < 0 {
		return 0
	}
	var g *segment
	for i := range s.segs {
		if j < s.segs[i].ceilEnd {
			g = &s.segs[i]
			break
		}
	}
	if g == nil {
		return math.MaxInt64
	}
	// N(x) = j within g, where N increases strictly: solve it in floating
	// point, then, where rounding could move x across a nanosecond, decide
	// exactly.
	d := (float64(j) - g.countF) * 1e9
	var u float64
	switch {
	case d <= 0:
		u = 0
	case g.from == g.to:
		u = d / g.from
	case g.to > g.from:
		// from·u + k·u² = d, with k = (to−from)/(2·length): the root
		// written to avoid cancellation.
		k := (g.to - g.from) / (2 * float64(g.length))
		u = 2 * d / (g.from + math.Sqrt(g.from*g.from+4*k*d))
	default:
		// A falling ramp, solved back from its end, where the rate is
		// to, as a rising one: to·v + k·v² = e requests due from x to
		// the end, with k = (from−to)/(2·length).
		e := max(g.endF-float64(j), 0) * 1e9
		k := (g.from - g.to) / (2 * float64(g.length))
		v := 0.0
		if e > 0 {
			v = 2 * e / (g.to + math.Sqrt(g.to*g.to+4*k*e))
		}
		u = float64(g.length) - v
	}
	x := float64(g.start) + u
	if x >= math.MaxInt64/2 {
		return math.MaxInt64
	}
	lo, hi := g.start, int64(math.MaxInt64)
	if g.length > 0 {
		hi = g.start + g.length - 1
	}
	t := min(max(int64(math.Floor(x)), lo), hi)
	if frac := x - math.Floor(x); frac < 1e-13*x+1e-6 || frac > 1-(1e-13*x+1e-6) {
		// Near a whole nanosecond m: x ≥ m exactly when N(m) ≤ j.
		m := min(max(int64(math.Round(x)), lo), hi)
		t = m
		if m > lo && g.exactCount(m).Cmp(new(big.Rat).SetInt64(j)) > 0 {
			t = m - 1
		}
	}
	return t
}

// MeanRate returns the mean rate requested over the shape's first d (the
// rate of a constant shape itself).
func (s Shape) MeanRate(d time.Duration) float64 {
	if s.IsConstant() || s.IsZero() || d <= 0 {
		return s.First()
	}
	return s.CountAt(d) / d.Seconds()
}
