package loadgen

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"
)

func TestParseShape(t *testing.T) {
	for _, tc := range []struct {
		in, spec    string
		first, last float64
		length      time.Duration
	}{
		{"2000", "2000", 2000, 2000, 0},
		{" 0.5 ", "0.5", 0.5, 0.5, 0},
		{"100..20000/30s", "100..20000/30s", 100, 20000, 30 * time.Second},
		{"0..1000/1500ms", "0..1000/1.5s", 0, 1000, 1500 * time.Millisecond},
		{"1000..0/2s", "1000..0/2s", 1000, 0, 2 * time.Second},
		{"1000,2000,4000,8000/10s", "1000,2000,4000,8000/10s", 1000, 8000, 40 * time.Second},
		{"0, 500 ,0/1s", "0,500,0/1s", 0, 0, 3 * time.Second},
		{"300/5s", "300/5s", 300, 300, 5 * time.Second},
		{"1e3..2e3/1m", "1000..2000/1m0s", 1000, 2000, time.Minute},
	} {
		s, err := ParseShape(tc.in)
		if err != nil {
			t.Errorf("ParseShape(%q): %v", tc.in, err)
			continue
		}
		if s.String() != tc.spec || s.First() != tc.first || s.Last() != tc.last || s.Length() != tc.length {
			t.Errorf("ParseShape(%q) = %q first %g last %g length %v; want %q %g %g %v",
				tc.in, s.String(), s.First(), s.Last(), s.Length(), tc.spec, tc.first, tc.last, tc.length)
		}
		if again, err := ParseShape(s.String()); err != nil || again.String() != s.String() {
			t.Errorf("ParseShape(%q) does not read back: %q, %v", s.String(), again.String(), err)
		}
	}
	for _, in := range []string{
		"", "0", "-5", "NaN", "Inf", "+Inf", "1e10", "abc", "2000/", "2000/0s", "2000/-1s", "100..200/0s",
		"100..200/500us", "100..200", "100..200/x", "1,2,3", "1,,3/1s", ",/1s", "..200/1s", "100../1s",
		"0..0/1s", "0,0/1s", "-1..10/1s", "1..NaN/1s", "1,2/1s/2s",
	} {
		s, err := ParseShape(in)
		if !errors.Is(err, ErrShape) {
			t.Errorf("ParseShape(%q) = %q, %v; want an error wrapping ErrShape", in, s.String(), err)
		}
	}
}

func TestShapeRateAndCount(t *testing.T) {
	s, err := ParseShape("100..300/2s")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at          time.Duration
		rate, count float64
	}{
		{-time.Second, 100, 0}, {0, 100, 0}, {time.Second, 200, 150}, {2 * time.Second, 300, 400}, {3 * time.Second, 300, 700},
	} {
		if r, n := s.RateAt(c.at), s.CountAt(c.at); math.Abs(r-c.rate) > 1e-9 || math.Abs(n-c.count) > 1e-9 {
			t.Errorf("at %v: rate %g, count %g; want %g, %g", c.at, r, n, c.rate, c.count)
		}
	}
	st, _ := ParseShape("10,0,30/1s")
	for _, c := range []struct {
		at          time.Duration
		rate, count float64
	}{
		{500 * time.Millisecond, 10, 5}, {1500 * time.Millisecond, 0, 10}, {2500 * time.Millisecond, 30, 25}, {4 * time.Second, 30, 70},
	} {
		if r, n := st.RateAt(c.at), st.CountAt(c.at); math.Abs(r-c.rate) > 1e-9 || math.Abs(n-c.count) > 1e-9 {
			t.Errorf("steps at %v: rate %g, count %g; want %g, %g", c.at, r, n, c.rate, c.count)
		}
	}
	for spec, peak := range map[string]float64{"100..300/2s": 300, "300..100/2s": 300, "10,40,30/1s": 40, "250": 250} {
		if got := mustShape(spec).Peak(); got != peak {
			t.Errorf("peak of %s: %g, want %g", spec, got, peak)
		}
	}
	if got := s.MeanRate(2 * time.Second); got != 200 {
		t.Errorf("mean rate of the ramp over 2s %g, want 200", got)
	}
	if got := s.MeanRate(4 * time.Second); got != 250 {
		t.Errorf("mean rate of the ramp held to 4s %g, want 250", got)
	}
	if got := Constant(3).MeanRate(time.Second); got != 3 {
		t.Errorf("mean rate of a constant 3/s %g", got)
	}
}

// piece is a test's own description of a shape: rates over a length,
// linear between from and to.
type piece struct {
	from, to float64
	ns       int64
}

// exactN is the integral of pieces up to t ns (exact), the last piece held.
func exactN(ps []piece, t int64) *big.Rat {
	n := new(big.Rat)
	for i, p := range ps {
		u := min(t, p.ns)
		if i == len(ps)-1 || p.ns == 0 {
			u = t
		}
		if u <= 0 {
			break
		}
		ur := new(big.Rat).SetInt64(u)
		a := new(big.Rat).SetFloat64(p.from)
		a.Mul(a, ur)
		if p.from != p.to && u <= p.ns {
			k := new(big.Rat).Sub(new(big.Rat).SetFloat64(p.to), new(big.Rat).SetFloat64(p.from))
			k.Mul(k, ur)
			k.Mul(k, ur)
			k.Quo(k, new(big.Rat).SetInt64(2*p.ns))
			a.Add(a, k)
		}
		n.Add(n, a.Quo(a, big.NewRat(1e9, 1)))
		t -= u
	}
	return n
}

func ceilR(q *big.Rat) int64 {
	n, m := new(big.Int).QuoRem(q.Num(), q.Denom(), new(big.Int))
	if m.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	return n.Int64()
}

// TestShapeScheduleCounts checks the one schedule against the integral of
// its shape: the requests due in every interval number exactly ⌈N(b)⌉ −
// ⌈N(a)⌉, N computed here on its own, exactly, for intervals of whole
// seconds (where N is often a whole number, and a rounding error shows) and
// of an odd length; with and without a warm-up at the first rate, and past
// the shape's length, where the last rate holds.
func TestShapeScheduleCounts(t *testing.T) {
	sec := int64(time.Second)
	for _, tc := range []struct {
		spec   string
		pieces []piece // the shape after its warm-up, the last held
		warmup int64
		until  int64
	}{
		{"1000", []piece{{1000, 1000, 0}}, 0, 2 * sec},
		{"3", []piece{{3, 3, 0}}, sec / 3, 5 * sec},
		{"200..1000/2s", []piece{{200, 1000, 2 * sec}, {1000, 1000, 0}}, 0, 3 * sec},
		{"200..1000/2s", []piece{{200, 1000, 2 * sec}, {1000, 1000, 0}}, sec / 2, 3 * sec},
		{"100..20000/30s", []piece{{100, 20000, 30 * sec}, {20000, 20000, 0}}, 0, 31 * sec},
		{"0..1000/2s", []piece{{0, 1000, 2 * sec}, {1000, 1000, 0}}, 0, 3 * sec},
		{"1000..0/2s", []piece{{1000, 0, 2 * sec}, {0, 0, 0}}, 0, 3 * sec},
		{"7.5..13/3s", []piece{{7.5, 13, 3 * sec}, {13, 13, 0}}, 0, 4 * sec},
		{"1000,2000,4000,8000/1s", []piece{{1000, 1000, sec}, {2000, 2000, sec}, {4000, 4000, sec}, {8000, 8000, sec}, {8000, 8000, 0}}, 0, 5 * sec},
		{"0,500,0,300/1s", []piece{{0, 0, sec}, {500, 500, sec}, {0, 0, sec}, {300, 300, sec}, {300, 300, 0}}, 0, 5 * sec},
		{"0,500,0,300/1s", []piece{{0, 0, sec}, {500, 500, sec}, {0, 0, sec}, {300, 300, sec}, {300, 300, 0}}, sec, 5 * sec},
	} {
		s, err := ParseShape(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		sched := s.lead(tc.warmup)
		ps := tc.pieces
		if tc.warmup > 0 {
			ps = append([]piece{{ps[0].from, ps[0].from, tc.warmup}}, ps...)
		}
		end := tc.warmup + tc.until
		// Every due time before the end, in order.
		var due []int64
		for j := int64(0); ; j++ {
			d := sched.dueNs(j)
			if d >= end {
				break
			}
			if len(due) > 0 && d < due[len(due)-1] {
				t.Fatalf("%s: request %d due at %d, before request %d at %d", tc.spec, j, d, j-1, due[len(due)-1])
			}
			due = append(due, d)
		}
		for _, iv := range []int64{sec, 37 * int64(time.Millisecond)} {
			k := 0
			for a := int64(0); a < end; a += iv {
				b := min(a+iv, end)
				n := 0
				for k < len(due) && due[k] < b {
					n++
					k++
				}
				want := ceilR(exactN(ps, b)) - ceilR(exactN(ps, a))
				if int64(n) != want {
					t.Errorf("%s (warm-up %v): %d due in [%v, %v), want %d, the integral's ⌈N(b)⌉−⌈N(a)⌉",
						tc.spec, time.Duration(tc.warmup), n, time.Duration(a), time.Duration(b), want)
				}
				if got := sched.firstAt(b) - sched.firstAt(a); got != want {
					t.Errorf("%s: firstAt counts %d in [%v, %v), want %d", tc.spec, got, time.Duration(a), time.Duration(b), want)
				}
			}
		}
	}
}

// TestShapeEndsAtZero: a shape that ends at rate 0 schedules nothing after
// its last request.
func TestShapeEndsAtZero(t *testing.T) {
	s, _ := ParseShape("1000..0/2s")
	if n := s.CountBetween(0, time.Hour); n != 1000 {
		t.Fatalf("1000..0/2s schedules %d requests, want 1000", n)
	}
	if d := s.Due(999); d >= 2*time.Second {
		t.Errorf("its last request is due at %v, want before 2s", d)
	}
	if d := s.Due(1000); d != math.MaxInt64 {
		t.Errorf("request 1000 is due at %v, want never", d)
	}
}

// TestShapeDueExact checks every due time of shapes whose floating-point
// inverse lands within rounding of a whole nanosecond (found by a search):
// request j is due at the last nanosecond t with N(t) ≤ j, so N(t+1) > j,
// N computed here exactly.
func TestShapeDueExact(t *testing.T) {
	ms := int64(time.Millisecond)
	for _, tc := range []struct {
		spec   string
		pieces []piece
	}{
		{"1724.21,1966.439,744/569ms", []piece{{1724.21, 1724.21, 569 * ms}, {1966.439, 1966.439, 569 * ms}, {744, 744, 0}}},
		{"1420.13,1815.933,830.8/1004ms", []piece{{1420.13, 1420.13, 1004 * ms}, {1815.933, 1815.933, 1004 * ms}, {830.8, 830.8, 0}}},
		{"1275.2,59.809,897.9/627ms", []piece{{1275.2, 1275.2, 627 * ms}, {59.809, 59.809, 627 * ms}, {897.9, 897.9, 0}}},
		{"18.93..550.224/1081ms", []piece{{18.93, 550.224, 1081 * ms}, {550.224, 550.224, 0}}},
		{"1890.68..458.8/908ms", []piece{{1890.68, 458.8, 908 * ms}, {458.8, 458.8, 0}}},
	} {
		s, err := ParseShape(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		n := s.firstAt(int64(s.Length()) + int64(time.Second))
		bad := 0
		for j := range n {
			d := s.dueNs(j)
			jr := new(big.Rat).SetInt64(j)
			if exactN(tc.pieces, d).Cmp(jr) > 0 || exactN(tc.pieces, d+1).Cmp(jr) <= 0 {
				if bad++; bad <= 3 {
					t.Errorf("%s: request %d due at %dns: N there is not ≤ %d < N a nanosecond later", tc.spec, j, d, j)
				}
			}
		}
	}
}

// mustShape parses a shape a test wrote.
func mustShape(s string) Shape {
	sh, err := ParseShape(s)
	if err != nil {
		panic(err)
	}
	return sh
}
