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
// around base.
func synthSummary(conns int, rate float64, base time.Duration, errs int64) loadgen.Summary {
	h := loadgen.NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.RecordValue(int64(base) * (1000 + i*i/50) / 1000)
	}
	l := loadgen.LatencyOf(h)
	s := loadgen.Summary{
		Version: loadgen.SummaryVersion, Network: "tcp", Addr: "127.0.0.1:1", Protocol: "echo", Size: 64,
		Connections: conns, Pipeline: 1, Start: "2025-01-01T00:00:00Z", DurationS: 1, RequestedRate: rate,
		AchievedRate: float64(1000 * conns), Requests: 1000, Corrected: l, Uncorrected: l,
		Errors: map[string]int64{"timeout": errs, "reset": 0}, ErrorsTotal: errs,
	}
	return s
}

func synthRun() *Run {
	r := &Run{Name: "golden", Notes: []string{"iterative serves one connection at a time."}}
	for _, m := range []struct {
		name string
		base time.Duration
	}{{"goroutine", 50 * time.Microsecond}, {"iterative", 400 * time.Microsecond}} {
		for _, c := range []int{1, 16} {
			r.Scenarios = append(r.Scenarios, Scenario{Group: "echo 64B", Model: m.name, Summary: synthSummary(c, 0, m.base*time.Duration(c), int64(c/16))})
		}
		r.Scenarios = append(r.Scenarios, Scenario{Group: "echo 64B", Model: m.name, Summary: synthSummary(4, 500, m.base, 0)})
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
	// against connections.
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

// runLoad runs a short real load and writes its directory.
func runLoad(t *testing.T, addr, dir string) {
	t.Helper()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Addr: addr, Connections: 2, Rate: 300, Duration: 700 * time.Millisecond, Interval: 200 * time.Millisecond})
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
		f, err := os.Open(filepath.Join(d, loadgen.SummaryFile))
		if err != nil {
			t.Fatal(err)
		}
		s, err := loadgen.ReadSummary(f)
		f.Close()
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
	f.Add([]byte(`{"name":"x","scenarios":[{"summary":{"version":1}}]}`))
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
