package reports

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
)

// shardLoad is the whole load of the shard tests: 10 connections at 1000
// requests/s, run as 4 shards.
var shardLoad = loadgen.Config{Network: "tcp", Addr: "10.0.0.1:9000", Protocol: "echo", Connections: 10, Pipeline: 1,
	Rate: loadgen.Constant(1000), Duration: time.Second, Timeout: time.Second, ConnectTimeout: time.Second, Shards: 4,
	Client: protocol.ClientOptions{Size: 64}}

// writeShard writes the result directory of shard i of cfg, whose
// corrected and uncorrected latencies are values, under parent.
func writeShard(t *testing.T, parent string, cfg loadgen.Config, i int, start time.Time, values []int64, errs int64) string {
	t.Helper()
	cfg.Shard = i
	corr, unc := loadgen.NewHistogram(), loadgen.NewHistogram()
	for _, v := range values {
		if err := corr.RecordValue(v); err != nil {
			t.Fatal(err)
		}
		if err := unc.RecordValue(v / 2); err != nil {
			t.Fatal(err)
		}
	}
	res := &loadgen.Result{Config: cfg, Start: start, Duration: time.Second, Requests: int64(len(values)),
		Corrected: corr, Uncorrected: unc, Connect: loadgen.NewHistogram(), Host: fmt.Sprintf("node-%d", i),
		StartOffset: time.Duration(i) * time.Millisecond}
	res.Errors[loadgen.Timeout] = errs
	dir := filepath.Join(parent, fmt.Sprintf("shard-%d", i))
	if err := WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMergeShardsIsTheUnion: the merge of a sharded load's shards has the
// percentiles of one histogram of all their values (it is that histogram:
// HDR histograms merge without loss), the whole load's connections and
// rate, and a row per shard.
func TestMergeShardsIsTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 4))
	union := loadgen.NewHistogram()
	parts := make([][]int64, 4)
	for range 20000 {
		// Latencies from 20 µs to 2 s, log-uniform, each to a shard at
		// random, as requests of one schedule land on shards.
		v := int64(20_000 * math.Pow(1e5, rng.Float64()))
		i := rng.IntN(4)
		parts[i] = append(parts[i], v)
		if err := union.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	start := time.Now().UTC()
	var dirs []string
	for _, i := range []int{2, 0, 3, 1} { // in any order
		dirs = append(dirs, writeShard(t, tmp, shardLoad, i, start, parts[i], 0))
	}
	s, err := MergeDirs(filepath.Join(tmp, "merged"), dirs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Corrected.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(union) {
		t.Errorf("the merged histogram (%d values) is not the union of the shards' (%d)", got.TotalCount(), union.TotalCount())
	}
	for _, p := range append(loadgen.Percentiles, 0, 100) {
		if g, w := got.ValueAtPercentile(p), union.ValueAtPercentile(p); g != w {
			t.Errorf("p%g: merged %d ns, union %d ns", p, g, w)
		}
	}
	if want := loadgen.LatencyOf(union); s.Corrected.P99Us != want.P99Us || s.Corrected.MaxUs != want.MaxUs || s.Corrected.Count != want.Count {
		t.Errorf("merged summary p99 %v max %v count %d; the union's %v %v %d", s.Corrected.P99Us, s.Corrected.MaxUs, s.Corrected.Count, want.P99Us, want.MaxUs, want.Count)
	}
	if s.Connections != shardLoad.Connections || s.RequestedRate != shardLoad.Rate.First() {
		t.Errorf("merged %d connections at %g/s, want the whole load's %d at %g/s", s.Connections, s.RequestedRate, shardLoad.Connections, shardLoad.Rate.First())
	}
	if s.Shard != nil || s.ConfigHash != shardLoad.Hash() {
		t.Errorf("merged shard %+v, hash %.12s; want none, and the load's %.12s", s.Shard, s.ConfigHash, shardLoad.Hash())
	}
	if len(s.Shards) != 4 {
		t.Fatalf("%d shard rows, want 4", len(s.Shards))
	}
	for i, r := range s.Shards {
		if r.Index != i || r.Host != fmt.Sprintf("node-%d", i) || r.Requests != int64(len(parts[i])) || r.RequestedRate != 250 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	// The merged files read back as the merge.
	back, err := loadgen.ReadSummaryFile(filepath.Join(tmp, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := back.Corrected.Decode(); !h.Equals(union) || len(back.Shards) != 4 {
		t.Errorf("merged summary.json: %d values, %d shard rows", h.TotalCount(), len(back.Shards))
	}
}

// TestMergeShardsRefuses: shards that are not every shard of one load, once,
// do not merge: a missing one is ErrShardMissing (exit 1),
// the rest ErrNotMergeable (exit 2).
func TestMergeShardsRefuses(t *testing.T) {
	start := time.Now().UTC()
	vals := []int64{50_000, 70_000}
	with := func(f func(*loadgen.Config)) loadgen.Config { c := shardLoad; f(&c); return c }
	shards := func(t *testing.T, cfg loadgen.Config, idx ...int) []string {
		tmp := t.TempDir()
		var dirs []string
		for k, i := range idx {
			dirs = append(dirs, writeShard(t, filepath.Join(tmp, fmt.Sprint(k)), cfg, i, start, vals, 0))
		}
		return dirs
	}
	for _, tc := range []struct {
		name string
		dirs func(t *testing.T) []string
		is   error
		want string
	}{
		{"a missing shard", func(t *testing.T) []string { return shards(t, shardLoad, 0, 1, 3) }, ErrShardMissing, "shard 2 of 4 not given"},
		{"two missing", func(t *testing.T) []string { return shards(t, shardLoad, 3) }, ErrShardMissing, "shard 0, 1, 2 of 4"},
		{"a shard twice", func(t *testing.T) []string { return shards(t, shardLoad, 0, 1, 1, 2, 3) }, ErrNotMergeable, "both shard 1 of 4"},
		{"a shard of another split", func(t *testing.T) []string {
			return append(shards(t, shardLoad, 0, 1, 2), shards(t, with(func(c *loadgen.Config) { c.Shards = 2 }), 1)...)
		}, ErrNotMergeable, "a shard of 2, not of 4"},
		{"a shard of another load", func(t *testing.T) []string {
			return append(shards(t, shardLoad, 0, 1, 2), shards(t, with(func(c *loadgen.Config) { c.Duration = time.Minute }), 3)...)
		}, ErrNotMergeable, "configuration hash"},
		{"a shard of another target", func(t *testing.T) []string {
			return append(shards(t, shardLoad, 0, 1, 2), shards(t, with(func(c *loadgen.Config) { c.Addr = "10.0.0.2:9000" }), 3)...)
		}, ErrNotMergeable, "address 10.0.0.2:9000"},
		{"a run that is no shard", func(t *testing.T) []string {
			return append(shards(t, shardLoad, 0, 1, 2, 3), shards(t, with(func(c *loadgen.Config) { c.Shards = 1 }), 0)...)
		}, ErrNotMergeable, "is a shard (--shard) and"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MergeDirs(filepath.Join(t.TempDir(), "out"), tc.dirs(t))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("merge: %v; want %v saying %q", err, tc.is, tc.want)
			}
			if tc.is == ErrShardMissing && errors.Is(err, ErrNotMergeable) {
				t.Errorf("a missing shard is not a usage error: %v", err)
			}
			t.Log(err)
		})
	}
}

// TestMergeShardsFailed: a shard that failed merges (its requests are part
// of the load), and the merge names it.
func TestMergeShardsFailed(t *testing.T) {
	tmp := t.TempDir()
	start := time.Now().UTC()
	var dirs []string
	for i := range 4 {
		errs := int64(0)
		if i == 2 {
			errs = 7
		}
		dirs = append(dirs, writeShard(t, tmp, shardLoad, i, start, []int64{50_000}, errs))
	}
	s, err := MergeDirs(filepath.Join(tmp, "out"), dirs)
	if err != nil {
		t.Fatal(err)
	}
	f := FailedShards(s)
	if len(f) != 1 || f[0].Index != 2 || f[0].Failed != 7 || s.ErrorsTotal != 7 {
		t.Fatalf("failed shards %+v, errors %d; want shard 2 with 7", f, s.ErrorsTotal)
	}
	var b strings.Builder
	if err := WriteShards(&b, s.Shards); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "shard 2 (node-2) failed: 7 failed") {
		t.Errorf("shard table does not name the failed shard:\n%s", b.String())
	}
}
