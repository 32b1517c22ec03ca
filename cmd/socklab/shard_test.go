package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
	"github.com/socklab/socklab/targets/goroutine"
)

// TestShardFlag: --shard takes I/N, or N with I from $JOB_COMPLETION_INDEX,
// and says what form it wants otherwise.
func TestShardFlag(t *testing.T) {
	for _, tc := range []struct {
		value, env string
		index, n   int
		err        string
	}{
		{value: "0/4", index: 0, n: 4},
		{value: "3/4", index: 3, n: 4},
		{value: "1/1", err: "want 0 to 0"},
		{value: "4/4", err: "want 0 to 3"},
		{value: "-1/4", err: "want 0 to 3"},
		{value: "4", env: "2", index: 2, n: 4},
		{value: "2/4", env: "3", index: 2, n: 4}, // an explicit index wins
		{value: "4", err: "$JOB_COMPLETION_INDEX is not set"},
		{value: "4", env: "4", err: "want 0 to 3"},
		{value: "0/0", err: "want I/N"},
		{value: "a/b", err: "want I/N"},
		{value: "", err: "want I/N"},
	} {
		t.Run(tc.value+" "+tc.env, func(t *testing.T) {
			t.Setenv(jobIndexEnv, tc.env)
			var s shardFlag
			err := s.Set(tc.value)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Set(%q): %v, want an error saying %q", tc.value, err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("Set(%q): %v", tc.value, err)
			case tc.err == "" && (s.index != tc.index || s.count != tc.n):
				t.Fatalf("Set(%q) = %d/%d, want %d/%d", tc.value, s.index, s.count, tc.index, tc.n)
			}
		})
	}
}

// TestStartFlag: --start-at takes RFC 3339 or +DURATION from now.
func TestStartFlag(t *testing.T) {
	var s startFlag
	if err := s.Set("2026-12-01T10:00:00.5Z"); err != nil || !s.at.Equal(time.Date(2026, 12, 1, 10, 0, 0, 5e8, time.UTC)) {
		t.Errorf("RFC 3339: %v, %v", s.at, err)
	}
	if err := s.Set("2026-12-01T11:00:00+01:00"); err != nil || !s.at.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339 with an offset: %v, %v", s.at, err)
	}
	before := time.Now()
	if err := s.Set("+30s"); err != nil || s.at.Before(before.Add(30*time.Second)) || s.at.After(time.Now().Add(30*time.Second)) {
		t.Errorf("+30s: %v, %v", s.at, err)
	}
	for _, bad := range []string{"tomorrow", "+-3s", "+3", "2026-12-01 10:00:00", "1733050000"} {
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) took it", bad)
		}
	}
}

// TestShardsCLI runs a load as two shards, each its own process, with one
// --start-at, for each engine, and merges them: the merge takes both and
// refuses either alone (exit 1); a shard started too late refuses to run
// (exit 2).
func TestShardsCLI(t *testing.T) {
	bin := socklabBinary(t)
	addr := startTarget(t, goroutine.Start)
	for _, engine := range []string{loadgen.EngineEpoll, loadgen.EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			tmp := t.TempDir()
			start := time.Now().Add(700 * time.Millisecond).UTC().Format(time.RFC3339Nano)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			type done struct {
				i        int
				out, err string
				runErr   error
			}
			ch := make(chan done, 2)
			var dirs []string
			for i := range 2 {
				dir := filepath.Join(tmp, fmt.Sprintf("shard-%d", i))
				dirs = append(dirs, dir)
				cmd := exec.CommandContext(ctx, bin, "load", "--engine", engine, "--shard", fmt.Sprintf("%d/2", i), "--start-at", start,
					"--rate", "400", "-c", "3", "-n", "200", "--protocol", "echo", "--out", dir, "--tag", fmt.Sprintf("shard-%d", i), addr)
				var o, e bytes.Buffer
				cmd.Stdout, cmd.Stderr = &o, &e
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go func() { err := cmd.Wait(); ch <- done{i, o.String(), e.String(), err} }()
			}
			for range 2 {
				d := <-ch
				if d.runErr != nil {
					t.Fatalf("shard %d: %v\n%s%s", d.i, d.runErr, d.out, d.err)
				}
			}
			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"report", "merge", "--out", filepath.Join(tmp, "merged")}, dirs...), &stdout, &stderr); code != 0 {
				t.Fatalf("merge: exit %d\n%s%s", code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if !strings.Contains(out, "2 shards of one load") || !strings.Contains(out, "open loop at 400 req/s, 3 connections") {
				t.Errorf("merge output:\n%s", out)
			}
			for _, one := range dirs {
				stdout.Reset()
				stderr.Reset()
				code := run([]string{"report", "merge", "--out", filepath.Join(tmp, "alone"), one}, &stdout, &stderr)
				if code != 1 || !strings.Contains(stderr.String(), "of 2 not given") {
					t.Errorf("merge of %s alone: exit %d, %q; want 1 and a missing shard", one, code, stderr.String())
				}
			}
			stdout.Reset()
			stderr.Reset()
			late := time.Now().Add(-5 * time.Second).UTC().Format(time.RFC3339)
			began := time.Now()
			code := run([]string{"load", "--engine", engine, "--shard", "0/2", "--start-at", late, "--rate", "400", "-c", "2", "-d", "500ms", addr}, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), "started late") {
				t.Errorf("a late shard: exit %d, %q; want 2, started late", code, stderr.String())
			}
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("a late shard refused after %v", took)
			}
		})
	}
}

// TestShardJSONSummary: a shard's summary names it, its host, its start
// and the load's hash.
func TestShardJSONSummary(t *testing.T) {
	addr := startTarget(t, goroutine.Start)
	dir := t.TempDir()
	t.Setenv(jobIndexEnv, "1")
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "--shard", "3", "--start-at", "+200ms", "-c", "3", "-n", "30", "--out", dir, addr}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s, err := loadgen.ReadSummaryFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if s.Shard == nil || s.Shard.Index != 1 || s.Shard.Count != 3 || s.Shard.Host != host {
		t.Errorf("shard %+v, want 1 of 3 on %s", s.Shard, host)
	}
	if s.Connections != 1 || s.Requests != 10 {
		t.Errorf("%d connections, %d requests; want its share: 1 and 10", s.Connections, s.Requests)
	}
	if len(s.ConfigHash) != 64 || s.StartAt == "" || s.StartOffsetUs <= 0 {
		t.Errorf("config_hash %q, start_at %q, start_offset_us %v", s.ConfigHash, s.StartAt, s.StartOffsetUs)
	}
}

// TestMergeShardsExit: the merge of a sharded load exits 1 when a shard
// failed, naming it, and evaluates --threshold on the merged histograms
// (exit 3 when one is crossed).
func TestMergeShardsExit(t *testing.T) {
	cfg := loadgen.Config{Network: "tcp", Addr: "10.0.0.1:9000", Protocol: "echo", Connections: 4, Pipeline: 1, Rate: loadgen.Constant(400),
		Duration: time.Second, Shards: 2}
	write := func(dir string, i int, errs int64) string {
		c := cfg
		c.Shard = i
		h := loadgen.NewHistogram()
		for v := range int64(200) {
			_ = h.RecordValue(1_000_000 + v*1000) // 1 ms to 1.2 ms
		}
		res := &loadgen.Result{Config: c, Start: time.Now(), Duration: time.Second, Requests: 200,
			Corrected: h, Uncorrected: h, Connect: loadgen.NewHistogram(), Host: fmt.Sprintf("node-%d", i)}
		res.Errors[loadgen.Reset] = errs
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		if err := reports.WriteResult(d, res); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tmp := t.TempDir()
	good := []string{write(filepath.Join(tmp, "good"), 0, 0), write(filepath.Join(tmp, "good"), 1, 0)}
	bad := []string{good[0], write(filepath.Join(tmp, "bad"), 1, 3)}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"healthy", good, 0, ""},
		{"within the thresholds", append([]string{"--threshold", "p99<2ms", "--threshold", "rate>=0.95*requested"}, good...), 0, ""},
		{"a threshold crossed", append([]string{"--threshold", "p50<500us"}, good...), 3, "threshold crossed: p50<500us"},
		{"a shard failed", append([]string{"--threshold", "p99<2ms"}, bad...), 1, "shard 1 (node-1: 3 failed) failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"report", "merge", "--out", filepath.Join(t.TempDir(), "merged")}, tc.args...)
			code := run(args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q\n%s", code, stderr.String(), tc.code, tc.want, stdout.String())
			}
			if !strings.Contains(stdout.String(), "2 shards of one load") {
				t.Errorf("no shard table:\n%s", stdout.String())
			}
		})
	}
}
