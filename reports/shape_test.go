package reports

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

// TestRenderShapedRun: a ramp's log carries the rate each interval
// requested, ReadHlog reads it back, a merge of two shards adds their
// shares, and the report of the run plots its latency against the
// requested rate.
func TestRenderShapedRun(t *testing.T) {
	srv, err := goroutine.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ramp, err := loadgen.ParseShape("100..700/600ms")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Addr: srv.Addrs()[0].String(), Connections: 2, Rate: ramp, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
	entries := readHlogFile(t, dir)
	var due []int64
	for _, e := range entries {
		if e.Requested != nil {
			if e.Tag != loadgen.TagCorrected {
				t.Errorf("the requested rate is on a %q entry, want the corrected one", e.Tag)
			}
			due = append(due, e.Requested.Due)
		}
	}
	// 100..700/600ms: N(t) = 100t + 500t², so 40, 80 and 120 due in
	// each 200ms.
	if want := []int64{40, 80, 120}; !slices.Equal(due, want) {
		t.Fatalf("requested per interval %v, want %v", due, want)
	}
	tl := timelineOf(entries, 0.6)
	// One point per interval with answers (a stalled machine may leave
	// one without), at the rate it requested.
	if len(tl.RateP99) < 2 || len(tl.RateP999) != len(tl.RateP99) || len(tl.RateP50) != len(tl.RateP99) {
		t.Errorf("latency against requested rate: %v, want a point per interval", tl.RateP99)
	}
	for _, p := range tl.RateP99 {
		if p.X != 200 && p.X != 400 && p.X != 600 {
			t.Errorf("a point at %g/s, want 200, 400 or 600", p.X)
		}
	}

	// Two shards' logs, each half of the schedule, merge into the whole.
	half := func(es []LogEntry) []LogEntry {
		out := slices.Clone(es)
		for i := range out {
			if q := out[i].Requested; q != nil {
				out[i].Requested = &loadgen.Requested{Due: q.Due / 2, Rate: q.Rate / 2}
			}
		}
		return out
	}
	var merged []int64
	for _, e := range MergeLogs([][]LogEntry{half(entries), half(entries)}, 200) {
		if e.Requested != nil {
			merged = append(merged, e.Requested.Due)
			if e.Requested.Rate != float64(e.Requested.Due)*5 {
				t.Errorf("merged interval: %d due at %g/s, want %g/s", e.Requested.Due, e.Requested.Rate, float64(e.Requested.Due)*5)
			}
		}
	}
	if !slices.Equal(merged, due) {
		t.Errorf("merged requested %v, want %v", merged, due)
	}

	out := t.TempDir()
	if _, err := Render(out, []string{dir}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"corrected latency against requested rate", "requested rate (requests/s)", "p99.9", "100..700/600ms"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
