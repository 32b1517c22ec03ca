package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
)

// TestBenchSmoke runs a tiny matrix in-process and checks the run
// directory's files.
func TestBenchSmoke(t *testing.T) {
	plan := planMatrix([]string{"goroutine"}, true)
	plan.duration, plan.warmup = 200*time.Millisecond, 50*time.Millisecond
	var keep []benchScenario
	for _, s := range plan.scenarios {
		if s.conns <= 16 {
			keep = append(keep, s)
		}
	}
	plan.scenarios = keep
	out := t.TempDir()
	var progress bytes.Buffer
	dir, run, err := bench(context.Background(), benchOptions{plan: plan, out: out, start: inProcessStarter, progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{reports.HTMLFile, reports.MarkdownFile, reports.ResultsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, s := range run.Scenarios {
		for _, f := range []string{"latency.hgrm", "latency.hlog", "summary.json"} {
			if _, err := os.Stat(filepath.Join(dir, s.Dir, f)); err != nil {
				t.Error(err)
			}
		}
		if s.Summary.Requests == 0 {
			t.Errorf("%s %s: no requests", s.Group, s.Model)
		}
	}
	if l, err := os.Readlink(filepath.Join(out, "latest")); err != nil || l != filepath.Base(dir) {
		t.Errorf("latest -> %q (%v), want %s", l, err, filepath.Base(dir))
	}
	if !strings.Contains(progress.String(), "[1/") {
		t.Errorf("no progress lines:\n%s", progress.String())
	}
}

func TestLoadAndReportCLI(t *testing.T) {
	tmp := t.TempDir()
	aFile := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(aFile, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		// lines, if set, is how many lines stderr must have: a bad flag
		// is one line, the error and a pointer to --help, never the
		// usage.
		lines int
	}{
		{name: "bad rate", args: []string{"load", "--rate", "-5", "127.0.0.1:1"}, wantCode: 2, wantErr: "is not a number of requests per second from 0"},
		{name: "no target", args: []string{"load"}, wantCode: 2, wantErr: "no target"},
		{name: "remote", args: []string{"load", "192.0.2.1:7"}, wantCode: 2, wantErr: "--allow-remote"},
		{name: "bad connections", args: []string{"load", "-c", "0", "127.0.0.1:1"}, wantCode: 2, wantErr: "-c wants"},
		{name: "report without subcommand", args: []string{"report"}, wantCode: 2, wantErr: "render or merge"},
		{name: "merge without out", args: []string{"report", "merge", "x"}, wantCode: 2, wantErr: "--out"},
		{name: "bench bad model", args: []string{"bench", "--models", "nope"}, wantCode: 2, wantErr: "unknown model"},
		{name: "load help", args: []string{"load", "-h"}, wantCode: 0, wantErr: "example:"},
		{name: "flags after the address", args: []string{"load", "127.0.0.1:1", "-c", "0"}, wantCode: 2, wantErr: "-c wants"},
		{name: "two addresses", args: []string{"load", "127.0.0.1:1", "127.0.0.1:2"}, wantCode: 2, wantErr: "unexpected argument \"127.0.0.1:2\""},
		{name: "bad framing", args: []string{"load", "--framing", "lines", "127.0.0.1:1"}, wantCode: 2, wantErr: "want line, raw or auto"},
		{name: "raw is lock-step", args: []string{"load", "--protocol", "ack", "--framing", "raw", "--pipeline", "2", "127.0.0.1:1"}, wantCode: 2, wantErr: "lock-step"},
		// Issue 10.
		{name: "load bad flag", args: []string{"load", "--bogus", "127.0.0.1:1"}, wantCode: 2, wantErr: "flag provided but not defined: -bogus (see 'socklab load --help')", lines: 1},
		{name: "load bad value", args: []string{"load", "-c", "many", "127.0.0.1:1"}, wantCode: 2, wantErr: "invalid value \"many\" for flag -c", lines: 1},
		{name: "merge bad flag", args: []string{"report", "merge", "--bogus", "x"}, wantCode: 2, wantErr: "(see 'socklab report merge --help')", lines: 1},
		{name: "render bad flag", args: []string{"report", "render", "x", "--bogus"}, wantCode: 2, wantErr: "(see 'socklab report render --help')", lines: 1},
		{name: "bench bad flag", args: []string{"bench", "--bogus"}, wantCode: 2, wantErr: "(see 'socklab bench --help')", lines: 1},
		{name: "ramp without a duration", args: []string{"load", "--rate", "100..200", "127.0.0.1:1"}, wantCode: 2, wantErr: "a ramp needs its duration, like 100..200/30s"},
		{name: "steps of no length", args: []string{"load", "--rate", "1,2/0s", "127.0.0.1:1"}, wantCode: 2, wantErr: "want 1ms at least"},
		{name: "-n with a rate that ends at 0", args: []string{"load", "--rate", "100..0/1s", "-n", "10", "127.0.0.1:1"}, wantCode: 2, wantErr: "ends at 0: -n cannot bound it"},
		{name: "rate NaN", args: []string{"load", "--rate", "NaN", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "is not a number of requests per second from 0"},
		{name: "rate Inf", args: []string{"load", "--rate", "Inf", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "is not a number of requests per second from 0"},
		{name: "rate -Inf", args: []string{"load", "--rate", "-Inf", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "is not a number of requests per second from 0"},
		{name: "port out of range", args: []string{"load", "-d", "30s", "127.0.0.1:99999"}, wantCode: 2, wantErr: "port \"99999\""},
		{name: "size past the cap", args: []string{"load", "--size", "100000000", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "at most 16777216 bytes"},
		{name: "payloads in flight past the cap", args: []string{"load", "--size", "16000000", "-c", "100", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "at most 268435456 payload bytes"},
		{name: "out is a file", args: []string{"load", "-d", "30s", "--out", aFile, "127.0.0.1:1"}, wantCode: 2, wantErr: "--out: " + aFile + " is not a directory"},
		{name: "out under a file", args: []string{"load", "-d", "30s", "--out", filepath.Join(aFile, "run"), "127.0.0.1:1"}, wantCode: 2, wantErr: "not a directory"},
		{name: "merge out is a file", args: []string{"report", "merge", "--out", aFile, tmp}, wantCode: 2, wantErr: "--out: " + aFile + " is not a directory"},
		{name: "flags after the address", args: []string{"load", "127.0.0.1:1", "--rate", "NaN", "-d", "30s"}, wantCode: 2, wantErr: "flag -rate: bad rate"},
		{name: "flags after the directories", args: []string{"report", "merge", tmp, "--out", aFile}, wantCode: 2, wantErr: "--out: " + aFile},
		{name: "connect rate and rate", args: []string{"load", "--connect-rate", "100", "--rate", "100", "127.0.0.1:1"}, wantCode: 2, wantErr: "give one"},
		{name: "bad connect rate", args: []string{"load", "--connect-rate", "0", "127.0.0.1:1"}, wantCode: 2, wantErr: "flag -connect-rate: bad rate"},
		{name: "bad connect ramp", args: []string{"load", "--connect-rate", "10..20", "127.0.0.1:1"}, wantCode: 2, wantErr: "a ramp needs its duration"},
		{name: "requests per conn alone", args: []string{"load", "--requests-per-conn", "3", "127.0.0.1:1"}, wantCode: 2, wantErr: "give --connect-rate"},
		{name: "close alone", args: []string{"load", "--close", "server", "127.0.0.1:1"}, wantCode: 2, wantErr: "give --connect-rate"},
		{name: "bad close", args: []string{"load", "--connect-rate", "10", "--close", "both", "127.0.0.1:1"}, wantCode: 2, wantErr: "--close wants client or server"},
		{name: "rate of several per conn", args: []string{"load", "--rate", "300", "--reconnect", "--requests-per-conn", "3", "127.0.0.1:1"}, wantCode: 2, wantErr: "--connect-rate 100"},
		{name: "close server over udp", args: []string{"load", "--network", "udp", "--connect-rate", "10", "--close", "server", "-d", "30s", "127.0.0.1:1"}, wantCode: 2, wantErr: "no close to wait for"},
		{name: "everything after -- is positional", args: []string{"load", "--", "--json"}, wantCode: 2, wantErr: "address --json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
			if tc.lines > 0 && strings.Count(stderr.String(), "\n") != tc.lines {
				t.Errorf("stderr has %d lines, want %d:\n%s", strings.Count(stderr.String(), "\n"), tc.lines, stderr.String())
			}
			// A bad input is refused before any load: -d 30s never runs.
			if took := time.Since(start); code == 2 && took > 5*time.Second {
				t.Errorf("refused after %v, want at once", took)
			}
		})
	}
}

// writeResultDir writes a load result of cfg (a few latencies, no load run)
// into dir.
func writeResultDir(t *testing.T, dir string, cfg loadgen.Config) {
	t.Helper()
	h := loadgen.NewHistogram()
	_ = h.RecordValue(80_000)
	res := &loadgen.Result{Config: cfg, Start: time.Now(), Duration: time.Second, Requests: 1,
		Corrected: h, Uncorrected: h, Connect: loadgen.NewHistogram()}
	if err := reports.WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
}

// TestMergeCLI: report merge takes its flags after the directories, and
// refuses, with exit 2, runs that are not one load, a run given twice and
// an --out that is an input (issue 10).
func TestMergeCLI(t *testing.T) {
	tmp := t.TempDir()
	cfg := loadgen.Config{Network: "tcp", Addr: "127.0.0.1:9000", Protocol: "echo", Connections: 2, Pipeline: 1}
	a, b, c4k, out := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "c4k"), filepath.Join(tmp, "out")
	writeResultDir(t, a, cfg)
	writeResultDir(t, b, cfg)
	cfg.Client.Size = 4096
	writeResultDir(t, c4k, cfg)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"flags after the directories", []string{a, b, "--out", out}, 0, ""},
		{"64 B and 4 KiB", []string{"--out", out, a, c4k}, 2, "size 4096, not 64"},
		{"the same run twice", []string{"--out", out, a, a}, 2, "the same directory"},
		{"into an input", []string{"--out", b, a, b}, 2, "is the input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"report", "merge"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.wantCode, tc.want)
			}
		})
	}
}

// TestBenchRefusesBeforeMakingItsDirectory: bad flags of bench are refused
// before the run directory is made (issue 10: --network foo left an empty
// one).
func TestBenchRefusesBeforeMakingItsDirectory(t *testing.T) {
	aFile := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown network", []string{"--addr", "127.0.0.1:1", "--network", "foo"}, `--network "foo"`},
		{"unknown network, reference models", []string{"--network", "foo"}, `--network "foo"`},
		{"payload past the cap", []string{"--addr", "127.0.0.1:1", "--size", "100000000"}, "at most 16777216 bytes"},
		{"protocol not over the network", []string{"--addr", "127.0.0.1:1", "--network", "udp", "--protocol", "http"}, "does not run over udp"},
		{"bad port", []string{"--addr", "127.0.0.1:99999"}, `port "99999"`},
		{"out is a file", []string{"--out", aFile}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "reports")
			args := append([]string{"bench", "--out", out}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("bench made %s: %v", out, err)
			}
		})
	}
}
