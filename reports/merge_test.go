package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
)

// writeRun writes the result directory of a load of cfg, with a few
// latencies, into a new directory named name under parent.
func writeRun(t *testing.T, parent, name string, cfg loadgen.Config) string {
	t.Helper()
	h := loadgen.NewHistogram()
	for _, v := range []int64{50_000, 70_000, 90_000} {
		_ = h.RecordValue(v)
	}
	res := &loadgen.Result{Config: cfg, Start: time.Now(), Duration: time.Second, Requests: 3,
		Corrected: h, Uncorrected: h, Connect: loadgen.NewHistogram()}
	dir := filepath.Join(parent, name)
	if err := WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMergeRefusesOtherLoads: merging runs that are not the same load, the
// same run twice, or into one of its inputs gives a merged result that
// lies (issue 10); shards of one load, which differ in their tag and start,
// merge.
func TestMergeRefusesOtherLoads(t *testing.T) {
	base := loadgen.Config{Network: "tcp", Addr: "127.0.0.1:9000", Protocol: "echo", Connections: 4, Pipeline: 1,
		Client: protocol.ClientOptions{Size: 64}}
	with := func(f func(*loadgen.Config)) loadgen.Config { c := base; f(&c); return c }
	tmp := t.TempDir()
	a := writeRun(t, tmp, "a", with(func(c *loadgen.Config) { c.Tag = "host1" }))
	for _, tc := range []struct {
		name string
		cfg  loadgen.Config
		want string // "" for a merge
	}{
		{"a shard of the same load", with(func(c *loadgen.Config) { c.Tag = "host2" }), ""},
		{"another size", with(func(c *loadgen.Config) { c.Client.Size = 4096 }), "size 4096, not 64"},
		{"an open loop", with(func(c *loadgen.Config) { c.Rate = loadgen.Constant(500) }), "loop an open loop at 500 req/s, not a closed loop"},
		{"another rate", with(func(c *loadgen.Config) { c.Rate = loadgen.Constant(100) }), "open loop at 100 req/s"},
		{"other connections", with(func(c *loadgen.Config) { c.Connections = 16 }), "connections 16, not 4"},
		{"another protocol", with(func(c *loadgen.Config) { c.Protocol = "hello" }), "protocol hello, not echo"},
		{"another target", with(func(c *loadgen.Config) { c.Addr = "127.0.0.1:9001" }), "address 127.0.0.1:9001"},
		{"short connections", with(func(c *loadgen.Config) { c.Reconnect = true }), "short connections true"},
		{"pipelined", with(func(c *loadgen.Config) { c.Pipeline = 8 }), "pipeline 8, not 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := writeRun(t, t.TempDir(), "b", tc.cfg)
			s, err := MergeDirs(filepath.Join(t.TempDir(), "out"), []string{a, b})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("merge: %v", err)
			case tc.want == "" && (s.Connections != 8 || s.Requests != 6):
				t.Errorf("merged %d connections, %d requests; want 8 and 6", s.Connections, s.Requests)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("merge: %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	t.Run("the same directory twice", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(a, link); err != nil {
			t.Fatal(err)
		}
		for _, dirs := range [][]string{{a, a}, {a, a + "/"}, {a, link}} {
			if _, err := MergeDirs(filepath.Join(t.TempDir(), "out"), dirs); err == nil || !strings.Contains(err.Error(), "same directory") {
				t.Errorf("merge %v: %v, want a refusal", dirs, err)
			}
		}
	})
	t.Run("into an input", func(t *testing.T) {
		b := writeRun(t, t.TempDir(), "b", with(func(c *loadgen.Config) { c.Tag = "host2" }))
		before, _ := os.ReadFile(filepath.Join(b, loadgen.SummaryFile))
		if _, err := MergeDirs(b, []string{a, b}); err == nil || !strings.Contains(err.Error(), "is the input") {
			t.Errorf("merge into an input: %v, want a refusal", err)
		}
		if after, _ := os.ReadFile(filepath.Join(b, loadgen.SummaryFile)); string(after) != string(before) {
			t.Error("the refused merge changed its input's summary.json")
		}
	})
}
