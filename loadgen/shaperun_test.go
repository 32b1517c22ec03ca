package loadgen

import (
	"bufio"
	"bytes"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRampRunFollowsShape runs a ramp of 200 to 1000 requests/s over 1s,
// held for another 0.5s, in quarter-second intervals, with each engine
// against an echo server: the requests issued in each interval are the
// schedule's, exactly (75, 125, 175, 225, then 250 and 250 held), the
// interval log says so before each interval's histograms, and by the end
// of no interval were more answered than were due (an answer comes after
// its due time), while every request due was answered.
func TestRampRunFollowsShape(t *testing.T) {
	addr := startEcho(t, "tcp")
	wantDue := []int64{75, 125, 175, 225, 250, 250}
	wantRate := []float64{300, 500, 700, 900, 1000, 1000}
	iv := 250 * time.Millisecond
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			var mu sync.Mutex
			got := make([]int64, len(wantDue))
			cfg := Config{Addr: addr, Engine: engine, Rate: mustShape("200..1000/1s"), Connections: 4, Duration: 1500 * time.Millisecond,
				Warmup: 100 * time.Millisecond, Interval: iv, Timeout: 5 * time.Second, Grace: 5 * time.Second}
			cfg.onIssue = func(d int64) {
				if i := (d - int64(cfg.Warmup)) / int64(iv); d >= int64(cfg.Warmup) && i < int64(len(got)) {
					mu.Lock()
					got[i]++
					mu.Unlock()
				}
			}
			res := run(t, cfg)
			if !slices.Equal(got, wantDue) {
				t.Errorf("requests issued per interval by due time %v, want the shape's %v", got, wantDue)
			}
			s := res.Summary()
			if s.RateShape != "200..1000/1s" || math.Abs(s.RequestedRate-1100/1.5) > 1e-3 {
				t.Errorf("summary: rate shape %q, requested rate %g; want 200..1000/1s and its mean over 1.5s, 1100/1.5", s.RateShape, s.RequestedRate)
			}
			// Answers are counted when they come: those of the 20
			// requests due in the warm-up may come after it.
			if !s.Served() || s.Requests < 1100 || s.Requests > 1120 {
				t.Fatalf("%d answered (%v); want the 1100 due, and at most the warm-up's 20 more", s.Requests, s.Problems())
			}
			var cum int64
			due := int64(20)
			for i, in := range res.Intervals {
				if i < len(wantDue) {
					due += wantDue[i]
				}
				cum += in.Corrected.TotalCount()
				if cum > due {
					t.Errorf("by the end of interval %d, %d answered, more than the %d due", i, cum, due)
				}
			}
			var log bytes.Buffer
			if err := WriteHlog(&log, res.Start, res.Intervals); err != nil {
				t.Fatal(err)
			}
			var dues []int64
			var rates []float64
			sc := bufio.NewScanner(&log)
			for sc.Scan() {
				q, ok := ParseRequested(sc.Text())
				if !ok {
					continue
				}
				dues, rates = append(dues, q.Due), append(rates, q.Rate)
				// The corrected histogram, untagged, follows at once.
				if !sc.Scan() || strings.HasPrefix(sc.Text(), "#") || strings.HasPrefix(sc.Text(), "Tag=") {
					t.Errorf("the requested comment is followed by %q, not the untagged corrected histogram", sc.Text())
				}
			}
			if !slices.Equal(dues, wantDue) || !slices.Equal(rates, wantRate) {
				t.Errorf("the log's requested per interval: %v due at %v/s; want %v at %v/s", dues, rates, wantDue, wantRate)
			}
		})
	}
}

// TestShapeAndDuration: -d longer than the shape holds its last rate, -d
// shorter cuts it, and without -d the run lasts the shape's length.
func TestShapeAndDuration(t *testing.T) {
	for _, tc := range []struct {
		d        time.Duration
		wantD    time.Duration
		mean     float64
		due      []int64 // per 500ms interval
		lastRate float64
	}{
		{0, time.Second, 600, []int64{200, 400}, 800},
		{2 * time.Second, 2 * time.Second, 800, []int64{200, 400, 500, 500}, 1000},
		{500 * time.Millisecond, 500 * time.Millisecond, 400, []int64{200}, 400},
	} {
		cfg := Config{Addr: "127.0.0.1:1", Rate: mustShape("200..1000/1s"), Duration: tc.d, Interval: 500 * time.Millisecond}
		if err := cfg.normalize(); err != nil {
			t.Fatal(err)
		}
		if cfg.Duration != tc.wantD {
			t.Errorf("-d %v: the run lasts %v, want %v", tc.d, cfg.Duration, tc.wantD)
		}
		if m := cfg.requestedRate(); m != tc.mean {
			t.Errorf("-d %v: mean requested rate %g, want %g", tc.d, m, tc.mean)
		}
		r := &runner{cfg: cfg, sched: cfg.Rate, ival: int64(cfg.Interval), end: int64(cfg.Duration)}
		var due []int64
		var last float64
		for i := int64(0); ; i++ {
			q := r.requested(i)
			if q == nil {
				break
			}
			due, last = append(due, q.Due), q.Rate
		}
		if !slices.Equal(due, tc.due) || last != tc.lastRate {
			t.Errorf("-d %v: due per interval %v, the last at %g/s; want %v, %g/s", tc.d, due, last, tc.due, tc.lastRate)
		}
	}
}
