package loadgen

import (
	"errors"
	"testing"
	"time"
)

func TestParseThreshold(t *testing.T) {
	ms := float64(time.Millisecond)
	tests := []struct {
		expr        string
		metric, op  string
		bound       float64
		share, ofRq bool
	}{
		{expr: "p50<1ms", metric: "p50", op: "<", bound: ms},
		{expr: "p90<=250us", metric: "p90", op: "<=", bound: 250e3},
		{expr: "p99<2ms", metric: "p99", op: "<", bound: 2 * ms},
		{expr: "p99.9 < 10ms", metric: "p99.9", op: "<", bound: 10 * ms},
		{expr: "P99.99<1s", metric: "p99.99", op: "<", bound: 1e9},
		{expr: "max<1.5s", metric: "max", op: "<", bound: 1.5e9},
		{expr: "mean<500µs", metric: "mean", op: "<", bound: 500e3},
		{expr: "mean<500μs", metric: "mean", op: "<", bound: 500e3},
		{expr: "p99>100ns", metric: "p99", op: ">", bound: 100},
		{expr: "p100>=0s", metric: "p100", op: ">=", bound: 0},
		{expr: "errors<0.1%", metric: "errors", op: "<", bound: 0.001, share: true},
		{expr: "errors<1", metric: "errors", op: "<", bound: 1},
		{expr: "errors<=10", metric: "errors", op: "<=", bound: 10},
		{expr: "unsent<1", metric: "unsent", op: "<", bound: 1},
		{expr: "unfinished <= 2 %", metric: "unfinished", op: "<=", bound: 0.02, share: true},
		{expr: "late<5%", metric: "late", op: "<", bound: 0.05, share: true},
		{expr: "rate>=0.95*requested", metric: "rate", op: ">=", bound: 0.95, ofRq: true},
		{expr: "rate >= requested * 0.9", metric: "rate", op: ">=", bound: 0.9, ofRq: true},
		{expr: "rate>=requested", metric: "rate", op: ">=", bound: 1, ofRq: true},
		{expr: "rate>900", metric: "rate", op: ">", bound: 900},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			th, err := ParseThreshold(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric != tc.metric || th.Op != tc.op || th.Bound != tc.bound || th.Share != tc.share || th.OfRequested != tc.ofRq {
				t.Errorf("got %+v; want metric %s, op %s, bound %g, share %v, of requested %v", th, tc.metric, tc.op, tc.bound, tc.share, tc.ofRq)
			}
			if th.String() != tc.expr {
				t.Errorf("String() = %q, want the expression as given", th.String())
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	for _, expr := range []string{
		"", "p99", "p99=2ms", "p99==2ms", "p99<", "<2ms", "p99<2", "p99<2xs", "p99<-1ms", "p99<2ms<3ms",
		"p0<1ms", "p101<1ms", "p-1<1ms", "pNaN<1ms", "p0x10<1ms", "p1e2<1ms", "median<1ms",
		"errors<-1", "errors<1ms", "errors<101%", "errors<1e3", "errors<NaN", "errors<Inf", "late<x%",
		"rate>fast", "rate>=0.9*promised", "rate>-5", "throughput>5",
	} {
		t.Run(expr, func(t *testing.T) {
			if th, err := ParseThreshold(expr); !errors.Is(err, ErrThreshold) {
				t.Errorf("ParseThreshold(%q) = %+v, %v; want ErrThreshold", expr, th, err)
			}
		})
	}
}

// thresholdSummary is a run of 100 requests due: 90 answered at 1..90 ms,
// 4 failed, 3 unsent, 3 unfinished, 7 late, at 80 of 100 requested/s.
func thresholdSummary() Summary {
	h := NewHistogram()
	for i := int64(1); i <= 90; i++ {
		h.RecordValue(i * int64(time.Millisecond))
	}
	s := Summary{Requests: 90, ErrorsTotal: 4, Unsent: 3, Unfinished: 3, Late: 7,
		RequestedRate: 100, AchievedRate: 80, Corrected: LatencyOf(h)}
	s.Account()
	return s
}

func TestCheckThresholds(t *testing.T) {
	s := thresholdSummary()
	tests := []struct {
		expr    string
		crossed bool
		value   string
	}{
		{expr: "p50<45ms", crossed: true, value: "p50 45.02ms"},
		{expr: "p50<46ms", value: "p50 45.02ms"},
		{expr: "p99<=89ms", crossed: true, value: "p99 89.06ms"},
		{expr: "p99<90ms", value: "p99 89.06ms"},
		{expr: "max<100ms", value: "max 90.05ms"},
		{expr: "mean<45ms", crossed: true},
		{expr: "mean<46ms"},
		{expr: "p50>1ms"},
		{expr: "errors<4", crossed: true, value: "errors 4"},
		{expr: "errors<=4", value: "errors 4"},
		{expr: "errors<4%", crossed: true, value: "errors 4% (4 of 100 due)"},
		{expr: "errors<5%"},
		{expr: "unsent<1", crossed: true, value: "unsent 3"},
		{expr: "unfinished<=3%"},
		{expr: "late<7%", crossed: true},
		{expr: "late<8"},
		{expr: "rate>=0.95*requested", crossed: true, value: "rate 80.0/s (requested 100/s)"},
		{expr: "rate>=0.8*requested"},
		{expr: "rate>80", crossed: true},
		{expr: "rate>=80"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			th, err := ParseThreshold(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := CheckThresholds([]Threshold{th}, s)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Crossed != tc.crossed || tc.value != "" && r.Value != tc.value {
				t.Errorf("crossed %v, value %q; want %v, %q", r.Crossed, r.Value, tc.crossed, tc.value)
			}
		})
	}
	// A latency threshold over no latency at all is not met.
	th, _ := ParseThreshold("p99<1s")
	rs, err := CheckThresholds([]Threshold{th}, Summary{Corrected: LatencyOf(NewHistogram())})
	if err != nil || !rs[0].Crossed {
		t.Errorf("p99<1s over no values: %+v, %v; want crossed", rs, err)
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p99<2ms", "errors<0.1%", "rate>=0.95*requested", "p99.9<=1s", "late<5", "x<y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := ParseThreshold(expr)
		if err != nil {
			if !errors.Is(err, ErrThreshold) {
				t.Fatalf("error %v does not wrap ErrThreshold", err)
			}
			return
		}
		if th.Bound < 0 || th.Bound != th.Bound {
			t.Fatalf("%q: bound %g", expr, th.Bound)
		}
		if _, err := CheckThresholds([]Threshold{th}, thresholdSummary()); err != nil {
			t.Fatal(err)
		}
	})
}
