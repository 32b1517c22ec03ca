package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
	"github.com/socklab/socklab/targets/iterative"
)

func startTarget(t *testing.T, start func(targets.Config) (targets.Server, error)) string {
	t.Helper()
	srv, err := start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String()
}

// TestLoadExitStatus: socklab load exits 0 when every request due was
// served and every threshold holds, 1 when a request failed, was left
// unsent or unfinished (unless --allow-errors), 3 when a threshold was
// crossed, and 2 on bad usage, a bad threshold, or a target that refuses
// the connect made before the run.
func TestLoadExitStatus(t *testing.T) {
	healthy := startTarget(t, goroutine.Start)
	serial := startTarget(t, iterative.Start)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	short := []string{"-d", "300ms", "--grace", "200ms", "--quiet"}
	// An open loop that the iterative model cannot serve: one connection of
	// four is served, the others' requests are never sent.
	overload := append([]string{"--rate", "400", "-c", "4"}, short...)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // in stderr
	}{
		{name: "served", args: append(short, healthy), wantCode: 0},
		{name: "served, open loop, rate held", args: append(append([]string{"--rate", "200", "-c", "2", "--threshold", "rate>=0.9*requested", "--threshold", "errors<0.1%"}, short...), healthy), wantCode: 0},
		{name: "unserved connections", args: append(overload, serial), wantCode: 1, wantErr: "unsent (--allow-errors accepts it)"},
		{name: "unserved connections, goroutine engine", args: append(append([]string{"--engine", "goroutine"}, overload...), serial), wantCode: 1, wantErr: "unsent"},
		{name: "unserved connections allowed", args: append(append([]string{"--allow-errors"}, overload...), serial), wantCode: 0},
		{name: "latency threshold crossed", args: append(append([]string{"--threshold", "p50<1ns"}, short...), healthy), wantCode: 3, wantErr: "threshold crossed: p50<1ns (p50 "},
		{name: "latency threshold held", args: append(append([]string{"--threshold", "p99<10s", "--threshold", "max<=10s"}, short...), healthy), wantCode: 0},
		{name: "failed before crossed", args: append(append([]string{"--threshold", "p50<1ns"}, overload...), serial), wantCode: 1},
		{name: "crossed with errors allowed", args: append(append([]string{"--allow-errors", "--threshold", "unsent<10%"}, overload...), serial), wantCode: 3, wantErr: "unsent<10% (unsent "},
		{name: "rate threshold crossed", args: append(append([]string{"--allow-errors", "--threshold", "rate>=0.95*requested"}, overload...), serial), wantCode: 3, wantErr: "rate>=0.95*requested (rate "},
		{name: "count threshold crossed", args: append(append([]string{"--allow-errors", "--threshold", "unsent<=0"}, overload...), serial), wantCode: 3, wantErr: "unsent<=0"},
		{name: "nothing listens", args: append(short, refused), wantCode: 2, wantErr: "cannot connect to tcp " + refused},
		{name: "bad threshold", args: []string{"--threshold", "p99<2", healthy}, wantCode: 2, wantErr: "latency bound \"2\""},
		{name: "unknown threshold metric", args: []string{"--threshold", "speed>1", healthy}, wantCode: 2, wantErr: "unknown metric"},
		{name: "requested without a rate", args: []string{"--threshold", "rate>=0.9*requested", healthy}, wantCode: 2, wantErr: "only an open loop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"load"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q\nstdout:\n%s", code, stderr.String(), tc.wantCode, tc.wantErr, stdout.String())
			}
			if code == 2 && stdout.Len() > 0 {
				t.Errorf("a usage error printed a summary:\n%s", stdout.String())
			}
			if code == 3 && !strings.Contains(stdout.String(), "CROSSED") {
				t.Errorf("the summary does not show the crossed threshold:\n%s", stdout.String())
			}
		})
	}
}

// TestLoadJSONThresholds: the JSON summary carries each threshold with its
// value and verdict.
func TestLoadJSONThresholds(t *testing.T) {
	addr := startTarget(t, goroutine.Start)
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "-d", "200ms", "--json", "--threshold", "p99<10s", "--threshold", "p50<1ns", addr}, &stdout, &stderr)
	if code != 3 {
		t.Fatalf("exit %d, want 3; stderr %s", code, stderr.String())
	}
	s, err := loadgen.ReadSummary(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Thresholds) != 2 || s.Thresholds[0].Crossed || !s.Thresholds[1].Crossed || !strings.HasPrefix(s.Thresholds[1].Value, "p50 ") {
		t.Errorf("thresholds %+v, want p99<10s held and p50<1ns crossed with its value", s.Thresholds)
	}
	if s.SuccessRatio != 1 || s.Due != s.Requests {
		t.Errorf("success %g, due %d, answered %d: want every request due answered", s.SuccessRatio, s.Due, s.Requests)
	}
}

// TestBenchThresholdsAndFailures: the bench checks the thresholds on every
// scenario and says which crossed them (exit 3); a failing reference model
// is reported as such, and never first on latency.
func TestBenchThresholdsAndFailures(t *testing.T) {
	plan := planMatrix([]string{"goroutine", "iterative"}, true)
	plan.duration, plan.warmup, plan.timeout = 300*time.Millisecond, 50*time.Millisecond, 150*time.Millisecond
	var keep []benchScenario
	for _, s := range plan.scenarios {
		if s.group == "echo 64B" && (s.conns == 16 && s.rate == 0 || s.rate > 0) {
			keep = append(keep, s)
		}
	}
	plan.scenarios = keep
	th, err := loadgen.ParseThreshold("p99<1s")
	if err != nil {
		t.Fatal(err)
	}
	rate, err := loadgen.ParseThreshold("rate>=0.9*requested")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	dir, run, err := bench(context.Background(), benchOptions{plan: plan, out: t.TempDir(), start: inProcessStarter, progress: &progress,
		thresholds: []loadgen.Threshold{th, rate}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	var iter16 *reports.Scenario
	for i, s := range run.Scenarios {
		if s.Model == "iterative" && !s.Open() {
			iter16 = &run.Scenarios[i]
		}
		if n := len(s.Summary.Thresholds); s.Open() && n != 2 || !s.Open() && n != 1 {
			t.Errorf("%s %s: %d thresholds checked, want the rate one on open loops only", s.Model, s.Workload(), n)
		}
	}
	if iter16 == nil || !iter16.Failed() {
		t.Fatalf("iterative at 16 connections not failed: %+v", iter16)
	}
	if !strings.Contains(progress.String(), "timeout") && !strings.Contains(progress.String(), "failed") {
		t.Errorf("the progress does not say the iterative model failed")
	}
	page, err := readFile(dir, reports.HTMLFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, "✗ iterative: ") || strings.Contains(page, "<td>iterative (") {
		t.Errorf("the summary table does not name iterative as failed, or names it fastest")
	}
	if n := strings.Count(page, `<figure class="small">`); n != 2*len(run.Scenarios) {
		t.Errorf("%d small figures, want latency and rate over time for each of %d scenarios", n, len(run.Scenarios))
	}
	// A reference model that fails is the comparison's point: only crossed
	// thresholds (or an external server's failures) fail the bench.
	err = benchVerdict(run, false, false)
	if st, ok := err.(*exitStatus); ok && st.code != exitCrossed || !ok && err != nil {
		t.Errorf("verdict %v, want a crossed threshold or none", err)
	}
	if err := benchVerdict(run, true, false); err == nil || err.(*exitStatus).code != exitFailed {
		t.Errorf("external verdict %v, want failed requests (exit 1)", err)
	}
}

func readFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	return string(b), err
}

// TestBenchRefusedServer: a bench of a server where nothing listens is one
// line and exit 2, not a report of refused connects.
func TestBenchRefusedServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--quick", "--addr", addr, "--out", out}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "cannot connect to tcp "+addr) {
		t.Fatalf("exit %d, stderr %q; want 2 and one line", code, stderr.String())
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused bench left %d entries in --out", len(entries))
	}
}

// TestConnectRateCLI: socklab load --connect-rate prints the connects and
// the connect and first-byte latency, writes them into summary.json and, as
// tagged histograms, into latency.hlog, and socklab report render shows
// them in a table of connections.
func TestConnectRateCLI(t *testing.T) {
	addr := startTarget(t, goroutine.Start)
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "--connect-rate", "200", "--requests-per-conn", "2", "-d", "500ms", "--quiet", "--out", out, addr}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"open loop at 200 connects/s", "at most 20 connections open", "a new connection per 2 requests, closed by the client first", "connects", "first byte (from due)", "first byte (from connect)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	s, err := loadgen.ReadSummaryFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.ConnectRate != 200 || s.RequestedRate != 400 || s.RequestsPerConn != 2 || s.Close != loadgen.CloseClient ||
		s.Connects < 90 || s.FirstByte == nil || s.FirstByteUncorrected == nil || s.Connect == nil || s.Requests != 2*s.Connects {
		t.Errorf("summary: connect rate %g, requested %g, per conn %d, close %q, connects %d, requests %d, first byte %v",
			s.ConnectRate, s.RequestedRate, s.RequestsPerConn, s.Close, s.Connects, s.Requests, s.FirstByte != nil)
	}
	hlog, err := os.ReadFile(filepath.Join(out, loadgen.HlogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{loadgen.TagConnect, loadgen.TagFirstByte, loadgen.TagFirstByteUncorrected} {
		if !strings.Contains(string(hlog), "Tag="+tag+",") {
			t.Errorf("latency.hlog has no histogram tagged %s", tag)
		}
	}
	stdout.Reset()
	if code := run([]string{"report", "render", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("render: exit %d, %s", code, stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(out, reports.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 200/s |") || !strings.Contains(string(md), "first byte p99 (from due)") {
		t.Errorf("the report has no table of connections:\n%s", md)
	}
}
