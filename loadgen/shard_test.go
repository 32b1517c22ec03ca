package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
)

// shardExchanges returns the exchanges of every connection that shard
// cfg.Shard of cfg.Shards drives (cfg.Shards 1: the whole load), set up as
// Run sets them up, with no socket and no clock.
func shardExchanges(t *testing.T, cfg Config) []*exchange {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:1"
	}
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	sh := cfg.share()
	r := &runner{cfg: sh, sched: sh.Rate.lead(int64(sh.Warmup)), measure: int64(sh.Warmup), end: maxInt64, ival: int64(time.Hour)}
	r.proto, _ = protocol.Lookup(sh.Protocol)
	var xs []*exchange
	for id := range sh.Connections {
		st := new(stats)
		st.init(r)
		x := new(exchange)
		if err := x.init(r, st, id); err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	return xs
}

// openDues returns, sorted, the due times before until of every request of
// shard cfg.Shard's connections.
func openDues(t *testing.T, cfg Config, until int64) []int64 {
	t.Helper()
	var dues []int64
	for _, x := range shardExchanges(t, cfg) {
		for x.k = 0; ; x.k++ {
			d := x.nextDue()
			if d >= until {
				break
			}
			dues = append(dues, d)
		}
	}
	slices.Sort(dues)
	return dues
}

// TestShardSchedulesInterleave: the N shards of an open loop together have
// exactly the due times of the one schedule, to the nanosecond, and shard I
// has every N-th of them from the I-th: never two shards in phase. Uneven
// splits (connections that do not divide by N, rates that do not divide a
// second) are the cases that an approximate schedule gets wrong.
func TestShardSchedulesInterleave(t *testing.T) {
	for _, tc := range []struct {
		rate   Shape
		conns  int
		shards int
	}{
		{Constant(1000), 8, 4},
		{Constant(997.3), 10, 4},
		{Constant(3), 5, 3},
		{Constant(123456), 64, 7},
		{Constant(50), 4, 4},
		{Constant(7777), 13, 2},
		// Shapes: the shards of a ramp, of steps, of a ramp down to 0
		// together make the one schedule too.
		{mustShape("200..20000/1s"), 10, 4},
		{mustShape("0,500,3000,7/300ms"), 7, 3},
		{mustShape("5000..0/500ms"), 6, 4},
	} {
		t.Run(fmt.Sprintf("%s/s %d conns %d shards", tc.rate, tc.conns, tc.shards), func(t *testing.T) {
			until := int64(2 * time.Second)
			if tc.rate.First() > 10000 {
				until = int64(100 * time.Millisecond)
			}
			whole := openDues(t, Config{Rate: tc.rate, Connections: tc.conns, Duration: time.Second}, until)
			r := &runner{sched: tc.rate}
			for j, d := range whole {
				if want := r.dueAt(int64(j)); d != want {
					t.Fatalf("unsharded request %d due at %d, want %d (the schedule's)", j, d, want)
				}
			}
			if n := int64(len(whole)); n != tc.rate.firstAt(until) {
				t.Fatalf("%d requests due before %v, want the shape's %d", n, time.Duration(until), tc.rate.firstAt(until))
			}
			var union []int64
			for i := range tc.shards {
				part := openDues(t, Config{Rate: tc.rate, Connections: tc.conns, Duration: time.Second, Shard: i, Shards: tc.shards}, until)
				for k, d := range part {
					if want := r.dueAt(int64(i + k*tc.shards)); d != want {
						t.Fatalf("shard %d's request %d due at %d, want %d: request %d of the one schedule", i, k, d, want, i+k*tc.shards)
					}
				}
				union = append(union, part...)
			}
			slices.Sort(union)
			if !slices.Equal(union, whole) {
				t.Fatalf("the %d shards' due times (%d) are not the one schedule's (%d)", tc.shards, len(union), len(whole))
			}
		})
	}
}

// TestShardQuotasMakeOne: with -n, the shards' quotas add up to the run's
// requests, and in the open loop the requests they issue in the measured
// part are the one schedule's first -n due in it, warm-up or none; in the
// closed loop shard I issues its share of them.
func TestShardQuotasMakeOne(t *testing.T) {
	for _, tc := range []struct {
		rate          float64
		conns, shards int
		requests      int64
		warmup        time.Duration
	}{
		{1000, 8, 4, 1000, 0},
		{1000, 10, 4, 1003, 7300 * time.Microsecond},
		{333.3, 5, 3, 7, 10 * time.Millisecond},
		{0, 10, 4, 1003, 0},
		{0, 7, 7, 9, time.Second},
	} {
		t.Run(fmt.Sprintf("rate %g %d conns %d shards -n %d warmup %v", tc.rate, tc.conns, tc.shards, tc.requests, tc.warmup), func(t *testing.T) {
			base := Config{Rate: Constant(tc.rate), Connections: tc.conns, Requests: tc.requests, Warmup: tc.warmup}
			var measured []int64
			var total int64
			for i := range tc.shards {
				c := base
				c.Shard, c.Shards = i, tc.shards
				var mine int64
				for _, x := range shardExchanges(t, c) {
					mine += x.quota
					if !x.open {
						continue
					}
					// Issue as the engines do: every due time in the
					// warm-up, then the quota's.
					for n := int64(0); n < x.quota; x.k++ {
						if d := x.nextDue(); d >= x.r.measure {
							measured = append(measured, d)
							n++
						}
					}
				}
				if tc.rate == 0 && mine != shareOf(tc.requests, i, tc.shards) {
					t.Errorf("shard %d's connections issue %d requests, want its share %d", i, mine, shareOf(tc.requests, i, tc.shards))
				}
				total += mine
			}
			if total != tc.requests {
				t.Fatalf("the shards issue %d requests in all, want -n %d", total, tc.requests)
			}
			if tc.rate == 0 {
				return
			}
			r := &runner{sched: Constant(tc.rate).lead(int64(tc.warmup)), measure: int64(tc.warmup)}
			first := r.firstMeasured()
			if r.dueAt(first) < r.measure || first > 0 && r.dueAt(first-1) >= r.measure {
				t.Fatalf("firstMeasured %d: due at %d, the measured part starts at %d", first, r.dueAt(first), r.measure)
			}
			var want []int64
			for j := first; j < first+tc.requests; j++ {
				want = append(want, r.dueAt(j))
			}
			slices.Sort(measured)
			if !slices.Equal(measured, want) {
				t.Errorf("the shards' measured due times are not the one schedule's first %d in the measured part", tc.requests)
			}
		})
	}
}

// TestShardedRunsIssueOneSchedule runs, with each engine, a load whole and
// then as four shards (one after the other), and compares the due times of
// every request each issued: the shards' together are the whole run's.
func TestShardedRunsIssueOneSchedule(t *testing.T) {
	addr := startEcho(t, "tcp")
	for _, engine := range engines {
		for _, rate := range []float64{20000, 0} {
			t.Run(fmt.Sprintf("%s rate %g", engine, rate), func(t *testing.T) {
				cfg := Config{Addr: addr, Engine: engine, Rate: Constant(rate), Connections: 6, Requests: 150, Warmup: 3 * time.Millisecond}
				dues := func(c Config) ([]int64, *Result) {
					var mu sync.Mutex
					var ds []int64
					c.onIssue = func(d int64) { mu.Lock(); ds = append(ds, d); mu.Unlock() }
					res := run(t, c)
					if res.TotalErrors() != 0 {
						t.Fatalf("errors %v: %v", res.Errors, res.FirstErrors)
					}
					slices.Sort(ds)
					return ds, res
				}
				whole, _ := dues(cfg)
				var union []int64
				for i := range 4 {
					c := cfg
					c.Shard, c.Shards = i, 4
					ds, res := dues(c)
					union = append(union, ds...)
					measured := int64(len(ds) - slices.IndexFunc(ds, func(d int64) bool { return d >= int64(cfg.Warmup) }))
					want := shareOf(cfg.Requests, i, 4)
					if rate > 0 {
						// The one schedule's first -n due in the measured
						// part, of which shard i has every fourth.
						r := &runner{sched: cfg.Rate.lead(int64(cfg.Warmup)), measure: int64(cfg.Warmup)}
						first := r.firstMeasured()
						want = 0
						for j := first; j < first+cfg.Requests; j++ {
							if j%4 == int64(i) {
								want++
							}
						}
					}
					if measured != want {
						t.Errorf("shard %d issued %d requests in the measured part, want its share of -n: %d", i, measured, want)
					}
					s := res.Summary()
					if s.Shard == nil || s.Shard.Index != i || s.Shard.Count != 4 || s.Shard.Host == "" {
						t.Errorf("shard %d's summary: shard %+v", i, s.Shard)
					}
					if want := int(shareOf(6, i, 4)); s.Connections != want {
						t.Errorf("shard %d ran %d connections, want %d", i, s.Connections, want)
					}
					if s.RequestedRate != rate/4 {
						t.Errorf("shard %d's requested rate %g, want %g", i, s.RequestedRate, rate/4)
					}
				}
				if rate == 0 {
					return // a closed loop's due times are its send times
				}
				slices.Sort(union)
				if !slices.Equal(union, whole) {
					t.Errorf("the shards issued %d requests at due times other than the whole run's %d", len(union), len(whole))
				}
			})
		}
	}
}

// TestStartAt: a run waits for its start, counts its schedule from the
// start itself, and refuses a start it reaches more than its tolerance
// late, before it connects.
func TestStartAt(t *testing.T) {
	var accepted atomic.Int64
	srv := newTestServer(t, func(c net.Conn) {
		accepted.Add(1)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	for _, engine := range engines {
		t.Run(engine+" on time", func(t *testing.T) {
			at := time.Now().Add(150 * time.Millisecond)
			res := run(t, Config{Addr: srv.Addr(), Engine: engine, Rate: Constant(1000), Requests: 50, Warmup: 20 * time.Millisecond, StartAt: at})
			if res.StartOffset < 0 || res.StartOffset > DefaultStartTolerance {
				t.Errorf("start offset %v, want within [0, %v]", res.StartOffset, DefaultStartTolerance)
			}
			// The measured part starts at the start plus the warm-up, to
			// the nanosecond: the schedule counts from StartAt, not from
			// when the run woke.
			if got, want := res.Start.UnixNano(), at.Add(20*time.Millisecond).UnixNano(); got != want {
				t.Errorf("measured part starts at %v, want %v", res.Start, at.Add(20*time.Millisecond))
			}
			s := res.Summary()
			if s.StartAt != at.UTC().Format(time.RFC3339Nano) || s.StartOffsetUs != us(int64(res.StartOffset)) {
				t.Errorf("summary start_at %q offset %v", s.StartAt, s.StartOffsetUs)
			}
		})
		t.Run(engine+" late within the tolerance", func(t *testing.T) {
			at := time.Now().Add(-200 * time.Millisecond)
			res := run(t, Config{Addr: srv.Addr(), Engine: engine, Rate: Constant(1000), Requests: 300, StartAt: at})
			if res.StartOffset < 200*time.Millisecond {
				t.Errorf("start offset %v, want at least the 200ms it started late", res.StartOffset)
			}
			if res.Late < 100 {
				t.Errorf("%d requests late; those due in the 200ms before the run woke were all sent late", res.Late)
			}
		})
		t.Run(engine+" too late", func(t *testing.T) {
			before := accepted.Load()
			began := time.Now()
			_, err := Run(context.Background(), Config{Addr: srv.Addr(), Engine: engine, Rate: Constant(1000), Requests: 50,
				StartAt: time.Now().Add(-3 * time.Second)})
			if !errors.Is(err, ErrLateStart) {
				t.Fatalf("Run: %v, want ErrLateStart", err)
			}
			t.Log(err)
			if took := time.Since(began); took > time.Second {
				t.Errorf("refused after %v", took)
			}
			if n := accepted.Load() - before; n != 0 {
				t.Errorf("the refused run opened %d connections", n)
			}
		})
	}
	t.Run("a day away", func(t *testing.T) {
		_, err := Run(context.Background(), Config{Addr: srv.Addr(), Requests: 1, StartAt: time.Now().Add(48 * time.Hour)})
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("Run: %v, want ErrConfig", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := Run(ctx, Config{Addr: srv.Addr(), Requests: 1, StartAt: time.Now().Add(time.Minute)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run: %v, want the context's error", err)
		}
	})
}

// TestConfigHash: the hash is one for every shard of a load, whatever
// their index, host, tag, engine or start, and another for another load.
func TestConfigHash(t *testing.T) {
	base := Config{Network: "tcp", Addr: "10.0.0.1:9000", Protocol: "echo", Connections: 64, Pipeline: 1, Rate: Constant(20000),
		Duration: time.Minute, Warmup: 5 * time.Second, Timeout: 5 * time.Second, ConnectTimeout: 2 * time.Second, Shards: 4}
	h := base.Hash()
	with := func(f func(*Config)) Config { c := base; f(&c); return c }
	for name, c := range map[string]Config{
		"another shard":    with(func(c *Config) { c.Shard = 3 }),
		"another tag":      with(func(c *Config) { c.Tag = "shard-3" }),
		"another engine":   with(func(c *Config) { c.Engine, c.Threads = EngineGoroutine, 3 }),
		"another start":    with(func(c *Config) { c.StartAt, c.StartTolerance = time.Now(), time.Minute }),
		"remote allowed":   with(func(c *Config) { c.AllowRemote = true }),
		"the default size": with(func(c *Config) { c.Client.Size = 64 }),
		"framing evidence": with(func(c *Config) { c.FramingEvidence = "probed" }),
	} {
		if c.Hash() != h {
			t.Errorf("%s: the hash changed; it is the same load", name)
		}
	}
	for name, c := range map[string]Config{
		"another target":    with(func(c *Config) { c.Addr = "10.0.0.2:9000" }),
		"another rate":      with(func(c *Config) { c.Rate = Constant(20001) }),
		"other connections": with(func(c *Config) { c.Connections = 65 }),
		"other shards":      with(func(c *Config) { c.Shards = 2 }),
		"another duration":  with(func(c *Config) { c.Duration = 2 * time.Minute }),
		"another warm-up":   with(func(c *Config) { c.Warmup = 0 }),
		"another timeout":   with(func(c *Config) { c.Timeout = time.Second }),
		"another size":      with(func(c *Config) { c.Client.Size = 4096 }),
		"another protocol":  with(func(c *Config) { c.Protocol = "http" }),
		"short connections": with(func(c *Config) { c.Reconnect = true }),
		"a request count":   with(func(c *Config) { c.Requests = 1000 }),
		"raw framing":       with(func(c *Config) { c.Client.Framing = protocol.Raw }),
		"pipelined":         with(func(c *Config) { c.Pipeline = 2 }),
	} {
		if c.Hash() == h {
			t.Errorf("%s: the same hash; it is another load", name)
		}
	}
}

// TestShardConfigErrors: a shard index out of range, more shards than
// connections or requests, are configuration errors.
func TestShardConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Connections: 4, Shard: 4, Shards: 4},
		{Connections: 4, Shard: -1, Shards: 4},
		{Connections: 4, Shard: 1},
		{Connections: 4, Shards: -2},
		{Connections: 3, Shards: 4},
		{Connections: 8, Shards: 4, Requests: 3},
		{Connections: 8, StartTolerance: -time.Second},
	} {
		c.Addr = "127.0.0.1:1"
		if c.Requests == 0 {
			c.Duration = time.Second
		}
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
}
