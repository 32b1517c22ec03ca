package reports

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// synthSummary builds a deterministic summary whose latencies are spread
// around base, with errs timeouts and unsent requests left unsent.
func synthSummary(conns int, rate float64, base time.Duration, errs, unsent int64) loadgen.Summary {
	h := loadgen.NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.RecordValue(int64(base) * (1000 + i*i/50) / 1000)
	}
	l := loadgen.LatencyOf(h)
	s := loadgen.Summary{
		Version: loadgen.SummaryVersion, Network: "tcp", Addr: "127.0.0.1:1", Protocol: "echo", Size: 64,
		Connections: conns, Pipeline: 1, Start: "2025-01-01T00:00:00Z", DurationS: 1, GraceS: 1, RequestedRate: rate,
		AchievedRate: float64(1000 * conns), Requests: 1000, Corrected: l, Uncorrected: l,
		Errors: map[string]int64{"timeout": errs, "reset": 0}, ErrorsTotal: errs, Unsent: unsent,
	}
	s.Account()
	return s
}

// synthRun is two models at 1 and 16 connections and in an open loop. At
// 16 connections iterative shows the lower latency, but left requests
// unsent and failed some: it must not be named the fastest.
func synthRun() *Run {
	r := &Run{Name: "golden", Notes: []string{"iterative serves one connection at a time."}, Thresholds: []string{"p99<5ms"}}
	for _, m := range []struct {
		name string
		base time.Duration
	}{{"goroutine", 50 * time.Microsecond}, {"iterative", 40 * time.Microsecond}} {
		for _, c := range []int{1, 16} {
			var errs, unsent int64
			if m.name == "iterative" && c == 16 {
				errs, unsent = 15, 2800
			}
			s := synthSummary(c, 0, m.base*time.Duration(c), errs, unsent)
			s.Thresholds = []loadgen.ThresholdResult{{Expr: "p99<5ms", Value: "p99 " + loadgen.FormatDuration(s.Corrected.P99Us), Crossed: s.Corrected.P99Us >= 5000}}
			r.Scenarios = append(r.Scenarios, Scenario{Group: "echo 64B", Model: m.name, Summary: s})
		}
		r.Scenarios = append(r.Scenarios, Scenario{Group: "echo 64B", Model: m.name, Summary: synthSummary(4, 500, m.base, 0, 0)})
	}
	r.Sort()
	return r
}

var svgRE = regexp.MustCompile(`(?s)<svg.*?</svg>`)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./reports -update and review the diff\n--- got:\n%s", name, got)
	}
}

func TestMarkdownGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, synthRun()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", buf.Bytes())
}

func TestHTMLGolden(t *testing.T) {
	var a, b bytes.Buffer
	if err := WriteHTML(&a, synthRun()); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&b, synthRun()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings of the same run differ")
	}
	svgs := svgRE.FindAll(a.Bytes(), -1)
	// 1 and 16 connections and the open loop, plus throughput and p99
	// against connections (the scenarios have no interval logs).
	if len(svgs) != 5 {
		t.Errorf("%d plots, want 5", len(svgs))
	}
	for _, s := range svgs {
		if !bytes.Contains(s, []byte("goroutine")) || !bytes.Contains(s, []byte("iterative")) {
			t.Errorf("a plot lacks a model's legend entry")
		}
	}
	if !bytes.Contains(a.Bytes(), []byte("99.9%")) {
		t.Error("no percentile axis label 99.9%")
	}
	golden(t, "report.html", svgRE.ReplaceAll(a.Bytes(), []byte("<svg/>")))
}

// TestSummaryTableNamesFailures: the report opens with the summary table,
// where a model that did not serve every request is never the fastest,
// however low its latency, and is named with its share answered.
func TestSummaryTableNamesFailures(t *testing.T) {
	r := synthRun()
	var html, md bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	wl := workloads(r)
	var c16 *htmlWorkload
	for i := range wl {
		if wl[i].Name == "echo 64B, 16 connections" {
			c16 = &wl[i]
		}
	}
	if c16 == nil {
		t.Fatalf("no workload for 16 connections in %+v", wl)
	}
	if !strings.HasPrefix(c16.FastestP50, "goroutine") || !strings.HasPrefix(c16.FastestP99, "goroutine") {
		t.Errorf("fastest at 16 connections: p50 %q, p99 %q; want goroutine, the only model that served every request", c16.FastestP50, c16.FastestP99)
	}
	if len(c16.Failed) != 1 || !strings.Contains(c16.Failed[0], "iterative: 26.2% answered (15 failed, 2800 unsent)") {
		t.Errorf("failed at 16 connections: %q, want iterative with its share answered", c16.Failed)
	}
	page := html.String()
	if i, j := strings.Index(page, "<table class=\"summary\">"), strings.Index(page, "<h2>echo 64B</h2>"); i < 0 || j < i {
		t.Error("the summary table does not open the report")
	}
	if !strings.Contains(page, `<tr class="fail">`) || !strings.Contains(page, "✗ 15 failed, 2800 unsent") {
		t.Error("the failed scenario's row is not marked")
	}
	if !strings.Contains(page, "iterative, echo 64B, 16 connections: p99&lt;5ms (p99 13.19ms)") {
		t.Error("the crossed threshold is not reported")
	}
	if !strings.Contains(md.String(), "| echo 64B, 16 connections | goroutine (") {
		t.Errorf("markdown summary lacks the workload's fastest model:\n%s", md.String())
	}
}

// runLoad runs a short real load and writes its directory.
func runLoad(t *testing.T, addr, dir string) {
	t.Helper()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Addr: addr, Connections: 2, Rate: loadgen.Constant(300), Duration: 700 * time.Millisecond, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
}

func TestMergeEqualsOneHistogram(t *testing.T) {
	srv, err := goroutine.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := srv.Addrs()[0].String()
	tmp := t.TempDir()
	a, b, out := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "merged")
	runLoad(t, addr, a)
	runLoad(t, addr, b)

	// Recording both runs into one histogram…
	want := map[string]*hdr.Histogram{}
	var reqs int64
	for _, d := range []string{a, b} {
		s, err := loadgen.ReadSummaryFile(d)
		if err != nil {
			t.Fatal(err)
		}
		reqs += s.Requests
		for tag, l := range map[string]loadgen.Latency{loadgen.TagCorrected: s.Corrected, loadgen.TagUncorrected: s.Uncorrected} {
			h, _ := l.Decode()
			if want[tag] == nil {
				want[tag] = loadgen.NewHistogram()
			}
			for _, bar := range h.Distribution() {
				if bar.Count > 0 {
					want[tag].RecordValues(bar.From, bar.Count)
				}
			}
		}
	}
	// …equals merging them.
	s, err := MergeDirs(out, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != reqs || s.Connections != 4 || s.RequestedRate != 600 {
		t.Errorf("merged requests %d, connections %d, rate %g; want %d, 4, 600", s.Requests, s.Connections, s.RequestedRate, reqs)
	}
	got, _ := s.Corrected.Decode()
	if !got.Equals(want[loadgen.TagCorrected]) {
		t.Errorf("merged summary histogram (%d values) differs from one recording of both (%d)", got.TotalCount(), want[loadgen.TagCorrected].TotalCount())
	}
	f, err := os.Open(filepath.Join(out, loadgen.HlogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := ReadHlog(f)
	if err != nil {
		t.Fatal(err)
	}
	fromLog := map[string]*hdr.Histogram{}
	for _, e := range entries {
		if fromLog[e.Tag] == nil {
			fromLog[e.Tag] = loadgen.NewHistogram()
		}
		fromLog[e.Tag].Merge(e.Histogram)
	}
	for _, tag := range []string{loadgen.TagCorrected, loadgen.TagUncorrected} {
		if fromLog[tag] == nil || !fromLog[tag].Equals(want[tag]) {
			t.Errorf("merged hlog's %s histograms differ from one recording of both", tag)
		}
	}
	if _, err := os.Stat(filepath.Join(out, loadgen.HgrmFile)); err != nil {
		t.Error(err)
	}
	// And the merged directory renders.
	if _, err := Render(out, []string{out}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, MarkdownFile))
	if !strings.Contains(string(md), "| 4 | 600/s |") {
		t.Errorf("rendered merge lacks its row:\n%s", md)
	}
}

// TestRenderShowsTimeline: a rendered run shows each scenario's latency and
// rate over time, read from its latency.hlog.
func TestRenderShowsTimeline(t *testing.T) {
	srv, err := goroutine.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "run")
	runLoad(t, srv.Addrs()[0].String(), dir)
	entries := readHlogFile(t, dir)
	tl := timelineOf(entries, 0)
	if len(tl.P99) < 3 || len(tl.P99) != len(tl.Max) || len(tl.Rate) < 3 {
		t.Fatalf("timeline of %d p99 and %d rate points, want one per interval (3 or more)", len(tl.P99), len(tl.Rate))
	}
	var rate float64
	for _, p := range tl.Rate[:len(tl.Rate)-1] {
		rate += p.Y / float64(len(tl.Rate)-1)
	}
	if rate < 200 || rate > 400 {
		t.Errorf("mean achieved rate per interval %.0f/s, want about the 300/s requested", rate)
	}
	out := t.TempDir()
	if _, err := Render(out, []string{dir}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), `<figure class="small">`); n != 2 {
		t.Errorf("%d small figures, want the scenario's latency and rate over time", n)
	}
	if !strings.Contains(string(page), "requested") {
		t.Error("the rate plot lacks the requested rate")
	}
}

func FuzzReadHlog(f *testing.F) {
	h := loadgen.NewHistogram()
	h.RecordValue(1000)
	h.SetTag("corrected")
	var buf bytes.Buffer
	WriteLog(&buf, []LogEntry{{Tag: "corrected", StartMs: 1000, EndMs: 2000, Histogram: h}})
	f.Add(buf.Bytes())
	f.Add([]byte("Tag=x\n0.1,1.0,2.0,HISTFAAAA\n"))
	f.Add([]byte("#[StartTime: 1.5 (seconds since epoch)]\n1,1,1,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadHlog(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Histogram == nil {
				t.Fatal("entry without a histogram")
			}
		}
	})
}

func FuzzReadRun(f *testing.F) {
	var buf bytes.Buffer
	WriteRun(&buf, synthRun())
	f.Add(buf.Bytes())
	f.Add([]byte(`{"name":"x","scenarios":[{"summary":{"version":2}}]}`))
	f.Add([]byte(`{"scenarios":[{"summary":{"version":3}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadRun(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever reads must render.
		var out bytes.Buffer
		if err := WriteMarkdown(&out, r); err != nil {
			t.Fatal(err)
		}
	})
}

// readHlogFile reads the histogram log of the run written in dir.
func readHlogFile(t *testing.T, dir string) []LogEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, loadgen.HlogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := ReadHlog(f)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}
