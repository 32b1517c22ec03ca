package targets_test

// The model benchmarks: each model runs as its own process (socklab serve,
// built from cmd/socklab) against a Go client over loopback, closed
// loop (one 64-byte echo request in flight per connection), at 1, 16 and 256
// connections. Each reports req/s and p50/p99 latency in microseconds
// (hdrhistogram-go, one histogram per connection, merged).
//
// The server is pinned to CPU 0 with taskset when there are two CPUs or
// more; pin the client to another CPU by running the benchmark itself under
// taskset:
//
//	taskset -c 1 go test -run '^$' -bench Models -benchtime 2s ./targets/
//
// (a Makefile target: bench-models: the line above.)

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/socklab/socklab/internal/serveproc"
)

var benchModels = []string{"goroutine", "epoll", "reuseport", "select", "poll", "dispatcher", "reactor-pool"}

var (
	buildOnce sync.Once
	serverBin string
	buildErr  error
)

// buildSocklab builds the socklab binary once: the models' servers are
// socklab serve itself.
func buildSocklab(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "socklab-bench-")
		if err != nil {
			buildErr = err
			return
		}
		serverBin = filepath.Join(dir, "socklab")
		out, err := exec.Command("go", "build", "-o", serverBin, "../cmd/socklab").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build socklab: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return serverBin
}

// startServer starts `socklab serve` for model, pinned to CPU 0 when there
// are two CPUs or more.
func startServer(b *testing.B, bin, model string) *serveproc.Proc {
	args := []string{bin, "serve", "--model", model, "--protocol", "echo"}
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	p, err := serveproc.Start(cmd, 1, 20*time.Second, nil)
	if err != nil {
		b.Fatalf("start %s: %v", model, err)
	}
	return p
}

func BenchmarkModels(b *testing.B) {
	bin := buildSocklab(b)
	for _, model := range benchModels {
		srv := startServer(b, bin, model)
		for _, conns := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("%s/conns=%d", model, conns), func(b *testing.B) {
				benchEcho(b, srv.Addrs[0].Address, conns)
			})
		}
		if err := srv.Stop(10 * time.Second); err != nil {
			b.Errorf("stop %s: %v", model, err)
		}
	}
}

// benchEcho runs b.N 64-byte echo requests spread over conns connections,
// each with one request in flight.
func benchEcho(b *testing.B, addr string, conns int) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		cs[i] = c
	}
	hists := make([]*hdrhistogram.Histogram, conns)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	b.ResetTimer()
	begin := time.Now()
	for i, c := range cs {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		h := hdrhistogram.New(1, int64(10*time.Second), 3)
		hists[i] = h
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, 64)
			resp := make([]byte, 64)
			for j := range n {
				req[0], req[1] = byte(i), byte(j)
				t0 := time.Now()
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					errs <- err
					return
				}
				h.RecordValue(int64(time.Since(t0)))
				if resp[0] != req[0] || resp[1] != req[1] {
					errs <- fmt.Errorf("connection %d: wrong echo", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := hdrhistogram.New(1, int64(10*time.Second), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50))/1e3, "p50-µs")
	b.ReportMetric(float64(all.ValueAtQuantile(99))/1e3, "p99-µs")
	b.ReportMetric(0, "ns/op")
}
