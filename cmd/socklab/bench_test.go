package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "bad rate", args: []string{"load", "--rate", "-5", "127.0.0.1:1"}, wantCode: 2, wantErr: "--rate wants a positive number"},
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}
