package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
	"github.com/socklab/socklab/targets/goroutine"
	"github.com/socklab/socklab/targets/iterative"
)

// serialServer is an echo server that serves every connection's requests
// of size bytes one at a time, on one goroutine, each taking service:
// a server that sleeps per request on one thread. Its capacity is
// 1/service requests a second, whatever the connections.
type serialServer struct {
	ln   net.Listener
	jobs chan job
	wg   sync.WaitGroup
	mu   sync.Mutex
	cs   map[net.Conn]bool
	done chan struct{}
}

type job struct {
	c   net.Conn
	req []byte
}

func startSerialServer(t *testing.T, size int, service time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &serialServer{ln: ln, jobs: make(chan job, 1024), cs: map[net.Conn]bool{}, done: make(chan struct{})}
	s.wg.Add(2)
	go s.accept(size)
	go s.serve(service)
	t.Cleanup(s.close)
	return ln.Addr().String()
}

func (s *serialServer) accept(size int) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cs[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				req := make([]byte, size)
				if _, err := io.ReadFull(c, req); err != nil {
					return
				}
				select {
				case s.jobs <- job{c, req}:
				case <-s.done:
					return
				}
			}
		}()
	}
}

// serve is the one thread: each request takes service from when it was
// taken up, the next taken up when it is done. Each ends at its own
// deadline, the previous one's end plus service (or its arrival's, if the
// server was idle), not at whenever a sleep returned: the timer's slack
// on a busy machine would otherwise lengthen every service and lower the
// capacity below 1/service.
func (s *serialServer) serve(service time.Duration) {
	defer s.wg.Done()
	var end time.Time
	for {
		select {
		case j := <-s.jobs:
			if now := time.Now(); now.After(end) {
				end = now
			}
			end = end.Add(service)
			time.Sleep(time.Until(end))
			j.c.Write(j.req)
		case <-s.done:
			return
		}
	}
}

func (s *serialServer) close() {
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for c := range s.cs {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// TestFindSerialServer is issue 13's proof: against a server that sleeps
// 5 ms per request on one thread, --find 'p99<10ms' finds about 200
// requests a second. That is the true answer: below 200/s the open loop's
// evenly spaced requests never queue, each is answered in 5 ms; past it
// the queue grows by every request the server cannot take, and after the
// warm-up a step's p99 is far past 10 ms. So no search may end above
// 200/s (plus the 5% precision's rounding): noise only adds latency, it
// cannot make the server faster. Below, noise can end a search low: a
// stall of 10 ms queues requests that a server at 95% of its capacity
// drains for a third of a second. Each rate that fails is run twice more
// (--find-retries 2), and a search that still ends under three quarters
// of the capacity is run again, up to three searches: one must find it.
//
// A target 5 ms above the service time is finer than some machines can
// resolve: on this project's virtual machines, idle, a process's threads
// stall for 5 ms or more about once a second (the host's steal), so at
// times 1% of requests take 10 ms at any rate and no rate meets p99<10ms;
// the search then rightly says so, and proves nothing about capacity. The
// test measures that first (2 s at a quarter of the capacity, every
// request under the target); on a machine that cannot resolve it, it
// proves the same at four times the scale (20 ms a request, p99<40ms,
// 50/s), where a stall must exceed 20 ms to matter. It says which it ran.
func TestFindSerialServer(t *testing.T) {
	type scale struct {
		service      time.Duration
		target       string
		bound, start float64
	}
	sc := scale{5 * time.Millisecond, "p99<10ms", 10e3, 100}
	addr := startSerialServer(t, 64, sc.service)
	calm, err := loadgen.Run(t.Context(), loadgen.Config{Addr: addr, Protocol: "echo", Connections: 4, Rate: loadgen.Constant(50),
		Duration: 2 * time.Second, Warmup: 300 * time.Millisecond, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if max := calm.Summary().Corrected.MaxUs; max >= sc.bound {
		t.Logf("this machine cannot resolve a 10 ms target: at 50 req/s, a quarter of the 5 ms server's capacity, a request took %s (p50 %s); proving the search at 20 ms a request and p99<40ms instead",
			loadgen.FormatDuration(max), loadgen.FormatDuration(calm.Summary().Corrected.P50Us))
		sc = scale{20 * time.Millisecond, "p99<40ms", 40e3, 25}
		addr = startSerialServer(t, 64, sc.service)
	}
	capacity := float64(time.Second / sc.service)
	found := false
	for search := 1; search <= 3 && !found; search++ {
		var stdout, stderr bytes.Buffer
		code := run([]string{"load", "--find", sc.target, "--find-start", fmt.Sprint(sc.start), "--find-retries", "2", "-c", "4", "-d", "1s", "--warmup", "300ms",
			"--timeout", fmt.Sprint(50 * sc.service), "--json", addr}, &stdout, &stderr)
		var res loadgen.FindResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("exit %d, stdout not a result: %v\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
		}
		t.Logf("search %d for %s against a server of %v a request: exit %d: %s\n%s", search, sc.target, sc.service, code, res.Describe(), stderr.String())
		if want := fmt.Sprintf("step  1  %9s req/s", loadgen.FormatRate(sc.start)); !strings.Contains(stderr.String(), want) {
			t.Errorf("the steps were not printed as they went (no %q):\n%s", want, stderr.String())
		}
		if res.Rate > 1.025*capacity {
			t.Fatalf("found %g req/s in [%g, %g): past the server's capacity of %g/s", res.Rate, res.Met, res.Failed, capacity)
		}
		found = code == 0 && res.Outcome == loadgen.FindFound && res.Rate >= 0.75*capacity && res.Failed <= 1.075*capacity
	}
	if !found {
		t.Errorf("no search of three found about %g req/s (%g to %g), the server's capacity", capacity, 0.75*capacity, 1.025*capacity)
	}
}

// TestFindLoadOut: --find --out writes every step's files, find.json and
// the report with its plot of p99 against rate; the run is a search that
// finds no ceiling under a budget, and says so with exit status 4.
func TestFindLoadOut(t *testing.T) {
	addr := startTarget(t, goroutine.Start)
	out := filepath.Join(t.TempDir(), "find")
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "--find", "p99<10s", "--find", "errors<1%", "--find-steps", "2", "--find-start", "50",
		"-c", "2", "-d", "300ms", "--warmup", "100ms", "--out", out, addr}, &stdout, &stderr)
	if code != exitInconclusive || !strings.Contains(stdout.String(), "no ceiling found") || !strings.Contains(stderr.String(), "no ceiling found") {
		t.Fatalf("exit %d, want %d and no ceiling found\nstdout:\n%s\nstderr:\n%s", code, exitInconclusive, stdout.String(), stderr.String())
	}
	for _, step := range []string{"step-01-50rps", "step-02-100rps"} {
		for _, f := range []string{loadgen.HgrmFile, loadgen.HlogFile, loadgen.SummaryFile} {
			if _, err := os.Stat(filepath.Join(out, step, f)); err != nil {
				t.Error(err)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(out, reports.FindFile))
	if err != nil {
		t.Fatal(err)
	}
	var fr reports.FindRun
	if err := json.Unmarshal(b, &fr); err != nil {
		t.Fatal(err)
	}
	res := fr.Searches[0].Result
	if len(res.Steps) != 2 || res.Steps[1].Dir != "step-02-100rps" || res.Outcome != loadgen.FindNoCeiling || res.Rate != 100 ||
		strings.Join(res.Criteria, " ") != "p99<10s errors<1%" {
		t.Errorf("find.json: %+v", res)
	}
	html, err := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "target p99 10.00s", "step-02-100rps/latency.hgrm", "≥ 100"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}

// TestFindStartFails: a server that cannot serve the start rate's
// connections ends the search at once, saying so, with exit status 3;
// the step fails on the requests it left, not on its latency alone.
func TestFindStartFails(t *testing.T) {
	addr := startTarget(t, iterative.Start)
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "--find", "p99<10s", "-c", "4", "-d", "300ms", "--warmup", "100ms", "--timeout", "200ms", addr}, &stdout, &stderr)
	if code != exitCrossed || !strings.Contains(stderr.String(), "even the start rate, 100 req/s, did not meet p99<10s") ||
		!strings.Contains(stdout.String(), "unsent") {
		t.Fatalf("exit %d, want 3 and the start rate failed on unsent requests\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// TestFindUsage: what a search cannot be combined with, and bad search
// flags, are refused with exit 2 before anything runs.
func TestFindUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "100"}, "--find and --rate cannot be combined"},
		{[]string{"-n", "100"}, "--find and -n cannot be combined"},
		{[]string{"--shard", "0/2"}, "--find and --shard cannot be combined"},
		{[]string{"--threshold", "p99<1ms"}, "--find and --threshold cannot be combined"},
		{[]string{"--find-precision", "150%"}, "precision 1.5"},
		{[]string{"--find-start", "0"}, "--find-start wants a positive rate"},
		{[]string{"--find-max", "50"}, "highest rate 50"},
		{[]string{"--find-steps", "1"}, "--find-steps wants at least 2"},
		{[]string{"--find", "p99<"}, "bad threshold"},
	} {
		args := append([]string{"load", "--find", "p99<1ms"}, tc.args...)
		args = append(args, "127.0.0.1:1")
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line saying %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--find", "p99<1ms", "--threshold", "p99<1ms"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "cannot be combined") {
		t.Errorf("bench --find --threshold: exit %d, %q; want 2", code, stderr.String())
	}
}

// TestBenchFind: bench --find runs the search on every model and ranks
// them, a model that met no rate last.
func TestBenchFind(t *testing.T) {
	out := t.TempDir()
	var progress bytes.Buffer
	crit, err := loadgen.ParseThreshold("p99<10s")
	if err != nil {
		t.Fatal(err)
	}
	fc := loadgen.FindConfig{Criteria: []loadgen.Threshold{crit}, Start: 50, Steps: 2}
	dir, run, err := benchFind(t.Context(), benchOptions{out: out, start: inProcessStarter, progress: &progress},
		[]string{"iterative", "goroutine"}, []string{"a note"}, fc, 300*time.Millisecond, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Searches) != 2 || run.Searches[0].Model != "goroutine" || run.Searches[0].Result.Rate != 100 ||
		run.Searches[1].Model != "iterative" || run.Searches[1].Result.Outcome != loadgen.FindStartFailed {
		t.Fatalf("ranking %+v; want goroutine (100/s, no ceiling) before iterative (start failed)", run.Searches)
	}
	for _, f := range []string{reports.FindFile, reports.HTMLFile, reports.MarkdownFile, "goroutine/step-02-100rps/latency.hlog", "iterative/step-01-50rps/summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, reports.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 1 | goroutine | ≥ 100 |") || !strings.Contains(string(md), "| - | iterative | - | [-, 50) | start-failed |") {
		t.Errorf("summary.md ranking:\n%s", md)
	}
	if l, err := os.Readlink(filepath.Join(out, "latest")); err != nil || l != filepath.Base(dir) {
		t.Errorf("latest -> %q (%v)", l, err)
	}
	if !strings.Contains(progress.String(), "[2/2] goroutine") {
		t.Errorf("progress:\n%s", progress.String())
	}
}
