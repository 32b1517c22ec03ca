package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
	"github.com/socklab/socklab/targets/iterative"
)

// testServer is a stream server whose handler the test supplies. Close
// closes the listener and every connection and waits for the handlers.
type testServer struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newTestServer(t *testing.T, handle func(c net.Conn)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); handle(c) }()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) Addr() string { return s.l.Addr().String() }

func (s *testServer) Close() {
	s.l.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func startEcho(t *testing.T, network string) string { return startEchoOn(t, network) }

func startEchoTB(tb testing.TB) string { return startEchoOn(tb, "tcp") }

func startEchoOn(t testing.TB, network string) string {
	t.Helper()
	srv, err := goroutine.Start(targets.Config{Network: network, Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String()
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestClosedLoopEcho(t *testing.T) {
	tcp := startEcho(t, "tcp")
	unix := startEcho(t, "unix")
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "tcp one connection", cfg: Config{Addr: tcp, Requests: 200}},
		{name: "tcp 8 connections pipelined 4KiB", cfg: Config{Addr: tcp, Connections: 8, Pipeline: 4, Requests: 400, Client: clientSize(4096)}},
		{name: "unix", cfg: Config{Network: "unix", Addr: unix, Connections: 2, Requests: 200}},
		{name: "short connections", cfg: Config{Addr: tcp, Connections: 2, Reconnect: true, Requests: 50}},
		{name: "duration bounded", cfg: Config{Addr: tcp, Connections: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond}},
		{name: "more connections than threads", cfg: Config{Addr: tcp, Connections: 40, Threads: 2, Requests: 400}},
		{name: "open loop short connections", cfg: Config{Addr: tcp, Connections: 2, Rate: Constant(200), Reconnect: true, Requests: 20}},
		{name: "greeting (hello)", cfg: Config{Addr: startHello(t), Protocol: "hello", Connections: 3, Pipeline: 2, Requests: 60}},
	}
	for _, tc := range overEngines(tests, func(tc *struct {
		name string
		cfg  Config
	}) *Config {
		return &tc.cfg
	}) {
		t.Run(tc.cfg.Engine+" "+tc.name, func(t *testing.T) {
			res := run(t, tc.cfg)
			if n := res.TotalErrors(); n != 0 {
				t.Fatalf("errors = %v (%v), want none", res.Errors, res.FirstErrors)
			}
			if tc.cfg.Requests > 0 && res.Requests != tc.cfg.Requests {
				t.Errorf("requests = %d, want %d", res.Requests, tc.cfg.Requests)
			}
			if res.Requests == 0 || res.Uncorrected.TotalCount() != res.Requests {
				t.Errorf("requests = %d, histogram count = %d", res.Requests, res.Uncorrected.TotalCount())
			}
			if tc.cfg.Reconnect && res.Connect.TotalCount() < res.Requests {
				t.Errorf("connect histogram has %d values for %d requests", res.Connect.TotalCount(), res.Requests)
			}
		})
	}
}

func TestDatagramEcho(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			var addr string
			if network == "udp" {
				addr = "127.0.0.1:0"
			} else {
				addr = filepath.Join(t.TempDir(), "s")
			}
			pc, err := net.ListenPacket(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 65536)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo(buf[:n], from)
				}
			}()
			t.Cleanup(func() { pc.Close(); <-done })
			// With --reconnect each request has a socket of its own: the
			// run must still end after its 100 requests.
			for _, reconnect := range []bool{false, true} {
				res := run(t, Config{Network: network, Addr: pc.LocalAddr().String(), Connections: 2, Requests: 100, Reconnect: reconnect, Timeout: 2 * time.Second})
				if res.Requests != 100 || res.TotalErrors() != 0 {
					t.Fatalf("reconnect %v: requests = %d, errors = %v (%v); want 100 and none", reconnect, res.Requests, res.Errors, res.FirstErrors)
				}
			}
		})
	}
}

// TestOpenLoopShowsStall is wrk2's point: a server that stops answering for
// 0.5 s every 2 s must show the stall in the corrected upper percentiles,
// while the latency measured from the actual send stays low for most
// requests (each connection meets the stall once per cycle, then catches up).
func TestOpenLoopShowsStall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 4 s")
	}
	origin := time.Now()
	const cycle, stall = 2 * time.Second, 500 * time.Millisecond
	srv := newTestServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			// Stalled from 1.5 s to 2 s of every 2 s cycle.
			if phase := time.Since(origin) % cycle; phase >= cycle-stall {
				time.Sleep(cycle - phase)
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			checkStall(t, Config{Addr: srv.Addr(), Connections: 4, Rate: Constant(200), Duration: 4 * time.Second, Engine: engine})
		})
	}
}

func checkStall(t *testing.T, cfg Config) {
	res := run(t, cfg)
	s := res.Summary()
	t.Logf("corrected p50 %.0fus p90 %.0fus p99 %.0fus; uncorrected p50 %.0fus p90 %.0fus p99 %.0fus; late %d",
		s.Corrected.P50Us, s.Corrected.P90Us, s.Corrected.P99Us, s.Uncorrected.P50Us, s.Uncorrected.P90Us, s.Uncorrected.P99Us, s.Late)
	if res.TotalErrors() != 0 {
		t.Fatalf("errors = %v", res.Errors)
	}
	if s.Corrected.P99Us < 200e3 {
		t.Errorf("corrected p99 = %.0fus, want >= 200ms: the stall is hidden", s.Corrected.P99Us)
	}
	if s.Uncorrected.P50Us > 50e3 || s.Uncorrected.P90Us > 50e3 {
		t.Errorf("uncorrected p50 = %.0fus, p90 = %.0fus, want both < 50ms", s.Uncorrected.P50Us, s.Uncorrected.P90Us)
	}
	if s.Late == 0 {
		t.Errorf("no request counted late, though the stall delayed ~100 of them")
	}
	if s.RequestedRate != 200 || s.AchievedRate < 100 {
		t.Errorf("requested %g, achieved %g req/s", s.RequestedRate, s.AchievedRate)
	}
}

func TestErrorClasses(t *testing.T) {
	wrong := newTestServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			buf[n-1] ^= 0xff
			c.Write(buf[:n])
		}
	})
	short := newTestServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		c.Write(buf[:n/2])
	})
	silent := newTestServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	tests := []struct {
		name string
		cfg  Config
		want Class
	}{
		{name: "wrong echo", cfg: Config{Addr: wrong.Addr(), Requests: 20}, want: WrongReply},
		{name: "short echo", cfg: Config{Addr: short.Addr(), Requests: 20}, want: ShortReply},
		{name: "no answer", cfg: Config{Addr: silent.Addr(), Requests: 2, Timeout: 100 * time.Millisecond}, want: Timeout},
		{name: "nobody listening", cfg: Config{Addr: closed, Duration: 200 * time.Millisecond}, want: ConnectRefused},
		{name: "no unix socket", cfg: Config{Network: "unix", Addr: filepath.Join(t.TempDir(), "none"), Duration: 100 * time.Millisecond}, want: ConnectRefused},
	}
	for _, tc := range overEngines(tests, func(tc *struct {
		name string
		cfg  Config
		want Class
	}) *Config {
		return &tc.cfg
	}) {
		t.Run(tc.cfg.Engine+" "+tc.name, func(t *testing.T) {
			res := run(t, tc.cfg)
			if res.Requests != 0 || res.Uncorrected.TotalCount() != 0 {
				t.Errorf("%d requests recorded as answered, want none", res.Requests)
			}
			// Only a timeout is a latency too: at the time it took.
			if tc.want == Timeout {
				if n := res.Corrected.TotalCount(); n != res.Errors[Timeout]+res.Unfinished {
					t.Errorf("corrected histogram holds %d values, want the %d timeouts and %d unfinished", n, res.Errors[Timeout], res.Unfinished)
				}
				if m := res.Corrected.Min(); m < int64(tc.cfg.Timeout) {
					t.Errorf("a timeout recorded at %v, want at least the timeout %v", time.Duration(m), tc.cfg.Timeout)
				}
			} else if n := res.Corrected.TotalCount(); n != 0 {
				t.Errorf("%d failed requests recorded as latencies, want none", n)
			}
			if res.Errors[tc.want] == 0 {
				t.Fatalf("errors = %v (%v), want some %s", res.Errors, res.FirstErrors, tc.want)
			}
			if other := res.TotalErrors() - res.Errors[tc.want]; other != 0 {
				t.Errorf("errors = %v, want only %s", res.Errors, tc.want)
			}
			if tc.cfg.Requests > 0 && res.Errors[tc.want] != tc.cfg.Requests {
				t.Errorf("%s errors = %d, want one per request (%d)", tc.want, res.Errors[tc.want], tc.cfg.Requests)
			}
		})
	}
}

// engines are the engines that drive stream networks here, the default
// first.
var engines = func() []string {
	if epollAvailable {
		return []string{EngineEpoll, EngineGoroutine}
	}
	return []string{EngineGoroutine}
}()

// overEngines repeats a table once per engine, naming each case after its
// engine and setting the engine in its Config.
func overEngines[T any](tests []T, cfg func(*T) *Config) []T {
	var out []T
	for _, e := range engines {
		for _, tc := range tests {
			c := cfg(&tc)
			c.Engine = e
			out = append(out, tc)
		}
	}
	return out
}

func clientSize(n int) (o protocol.ClientOptions) { o.Size = n; return o }

func TestWriteDirHlogDecodes(t *testing.T) {
	addr := startEcho(t, "tcp")
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			checkWriteDir(t, Config{Addr: addr, Connections: 2, Rate: Constant(400), Duration: 1200 * time.Millisecond, Interval: 300 * time.Millisecond, Tag: "t", Engine: engine})
		})
	}
}

func checkWriteDir(t *testing.T, cfg Config) {
	res := run(t, cfg)
	dir := t.TempDir()
	for name, write := range map[string]func(io.Writer) error{
		HgrmFile:    func(w io.Writer) error { return WriteHgrm(w, res.Corrected) },
		HlogFile:    func(w io.Writer) error { return WriteHlog(w, res.Start, res.Intervals) },
		SummaryFile: func(w io.Writer) error { return WriteSummary(w, res.Summary()) },
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, HlogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lr := hdr.NewHistogramLogReader(f)
	got := map[string]*hdr.Histogram{TagCorrected: NewHistogram(), TagUncorrected: NewHistogram(), TagConnect: NewHistogram()}
	lines := 0
	var order []string
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		lines++
		order = append(order, h.Tag())
		if g := got[h.Tag()]; g != nil {
			g.Merge(h)
		} else {
			t.Errorf("unexpected tag %q", h.Tag())
		}
	}
	if lines < 6 {
		t.Errorf("%d interval lines, want at least 6 (2 tags x 3+ intervals)", lines)
	}
	// The corrected histogram is untagged, first of each interval, so that
	// HdrHistogram's tools read it without -tag.
	for i, tag := range order {
		if i == 0 && tag != "" || tag == TagUncorrected && order[i-1] != "" {
			t.Errorf("tags in order %q, want each interval's corrected histogram untagged and first", order)
			break
		}
	}
	if !got[TagCorrected].Equals(res.Corrected) || !got[TagUncorrected].Equals(res.Uncorrected) {
		t.Errorf("hlog totals %d/%d differ from the result's %d/%d",
			got[TagCorrected].TotalCount(), got[TagUncorrected].TotalCount(), res.Corrected.TotalCount(), res.Uncorrected.TotalCount())
	}
	hgrm, err := os.ReadFile(filepath.Join(dir, HgrmFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(hgrm, []byte("Value")) || !bytes.Contains(hgrm, []byte("#[Mean")) {
		t.Errorf("latency.hgrm lacks its header or footer:\n%s", hgrm)
	}
	sf, err := os.Open(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	s, err := ReadSummary(sf)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Corrected.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Equals(res.Corrected) || s.Requests != res.Requests {
		t.Errorf("summary.json histogram or count differs from the result")
	}
	var text strings.Builder
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"achieved", "corrected (from due)", "99.99%", "unsent", "unfinished", "late"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

func TestCancel(t *testing.T) {
	silent := newTestServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { checkCancel(t, silent.Addr(), engine) })
	}
}

func checkCancel(t *testing.T, addr, engine string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res *Result
	go func() {
		defer close(done)
		res, _ = Run(ctx, Config{Addr: addr, Connections: 3, Duration: time.Minute, Timeout: time.Minute, Engine: engine})
	}()
	time.AfterFunc(200*time.Millisecond, cancel)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after cancel")
	}
	if res == nil || res.Unfinished != 3 || res.TotalErrors() != 0 {
		t.Fatalf("result %+v: want 3 unfinished requests and no errors", res)
	}
}

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		name    string
		network string
		addr    string
		allow   bool
		wantErr bool
		bad     bool // the address is not one, whether remote or not
	}{
		{name: "ipv4 loopback", network: "tcp", addr: "127.0.0.1:80"},
		{name: "other 127/8", network: "tcp", addr: "127.3.2.1:80"},
		{name: "ipv6 loopback", network: "tcp", addr: "[::1]:80"},
		{name: "localhost", network: "tcp", addr: "localhost:80"},
		{name: "unix path", network: "unix", addr: "/tmp/x.sock"},
		{name: "remote refused", network: "tcp", addr: "192.0.2.1:80", wantErr: true},
		{name: "remote udp refused", network: "udp", addr: "10.0.0.1:53", wantErr: true},
		{name: "unspecified refused", network: "tcp", addr: "0.0.0.0:80", wantErr: true},
		{name: "remote allowed", network: "tcp", addr: "192.0.2.1:80", allow: true},
		{name: "no port", network: "tcp", addr: "127.0.0.1", wantErr: true, bad: true},
		// Issue 10: a bad address is the user's error (exit 2), not a
		// failure of the run.
		{name: "port out of range", network: "tcp", addr: "127.0.0.1:99999", wantErr: true, bad: true},
		{name: "port 0", network: "tcp", addr: "127.0.0.1:0", wantErr: true, bad: true},
		{name: "negative port", network: "udp", addr: "127.0.0.1:-1", wantErr: true, bad: true},
		{name: "bad port, remote allowed", network: "tcp", addr: "192.0.2.1:99999", allow: true, wantErr: true, bad: true},
		{name: "service name", network: "tcp", addr: "127.0.0.1:http"},
		{name: "unknown network", network: "foo", addr: "127.0.0.1:80", allow: true, wantErr: true, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTarget(tc.network, tc.addr, tc.allow)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckTarget(%s, %s, %v) = %v, want error %v", tc.network, tc.addr, tc.allow, err, tc.wantErr)
			}
			if tc.wantErr && !tc.bad && !errors.Is(err, ErrRemote) {
				t.Errorf("error %v does not wrap ErrRemote", err)
			}
		})
	}
	if _, err := Run(context.Background(), Config{Addr: "192.0.2.1:7", Requests: 1}); !errors.Is(err, ErrRemote) {
		t.Errorf("Run against a remote address: err = %v, want ErrRemote", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "unbounded", cfg: Config{Addr: "127.0.0.1:1"}},
		{name: "-n with a rate that ends at 0", cfg: Config{Addr: "127.0.0.1:1", Rate: mustShape("100..0/1s"), Requests: 1}},
		{name: "pipelined udp", cfg: Config{Network: "udp", Addr: "127.0.0.1:1", Pipeline: 2, Requests: 1}},
		{name: "bad network", cfg: Config{Network: "sctp", Addr: "127.0.0.1:1", Requests: 1}},
		{name: "unknown protocol", cfg: Config{Protocol: "gopher", Addr: "127.0.0.1:1", Requests: 1}},
		{name: "unknown engine", cfg: Config{Engine: "kqueue", Addr: "127.0.0.1:1", Requests: 1}},
		{name: "epoll over udp", cfg: Config{Engine: EngineEpoll, Network: "udp", Addr: "127.0.0.1:1", Requests: 1}},
		{name: "negative threads", cfg: Config{Threads: -1, Addr: "127.0.0.1:1", Requests: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.cfg); err == nil {
				t.Fatal("Run accepted a bad configuration")
			}
		})
	}
}

func FuzzReadSummary(f *testing.F) {
	h := NewHistogram()
	h.RecordValue(1234)
	s := Summary{Version: SummaryVersion, Corrected: LatencyOf(h), Uncorrected: LatencyOf(h), Errors: map[string]int64{"timeout": 1}}
	var buf bytes.Buffer
	WriteSummary(&buf, s)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"corrected":{"histogram":"HISTFAAAAB"}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSummary(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A summary that reads must write and read back the same.
		var out bytes.Buffer
		if err := WriteSummary(&out, s); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSummary(&out); err != nil {
			t.Fatalf("re-read of a written summary: %v", err)
		}
	})
}

// TestQueuedConnectionsAreCounted: against a server that serves one
// connection at a time, the connections queued behind the first send their
// first request during the warm-up and get no answer until the first
// connection closes, at the end. They must show up in the results (answered
// in the grace with a latency as long as the run, or unfinished, or failed),
// not vanish because their requests were sent before the measured part
// began.
//
// Each engine gets a server of its own: one shared would still be serving
// the previous engine's queued connections when the next run starts.
func TestQueuedConnectionsAreCounted(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			srv, err := iterative.Start(targets.Config{Protocol: "echo"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			const warmup, d = 100 * time.Millisecond, 300 * time.Millisecond
			res := run(t, Config{
				Addr: srv.Addrs()[0].String(), Engine: engine, Connections: 4,
				Warmup: warmup, Duration: d, Timeout: 10 * time.Second,
			})
			if res.Requests == 0 {
				t.Fatalf("no request completed; the first connection should be served")
			}
			if got := res.Corrected.Max(); got < int64(d) {
				t.Errorf("corrected max %v, want at least the run's %v: the queued connections' requests are hidden (unfinished %d, errors %d)",
					time.Duration(got), d, res.Unfinished, res.TotalErrors())
			}
		})
	}
}
