package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/loadgen"
)

// A netLab is a private network made for one test out of network
// namespaces, the way a cluster gives each pod its own: a server namespace
// whose bridge holds labServerIP, and client namespaces, each with its own
// address on that bridge through a veth pair. Its addresses exist only
// inside its namespaces, so its traffic never leaves the machine. Every
// namespace (and with it every interface) is removed when the test ends,
// failed or not.
type netLab struct {
	server    string   // the server's namespace
	clients   []string // the clients' namespaces
	clientIPs []string // their addresses, in order
}

// The lab's subnet, private to its namespaces.
const (
	labServerIP = "10.201.0.1"
	labPrefix   = "/24"
)

var labSeq atomic.Int64

// newNetLab makes a lab of n clients, or skips the test where network
// namespaces cannot be made (they need root, and the ip command of
// iproute2).
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command: network namespaces are made with iproute2's ip")
	}
	// Names unique to this process and lab: runs of the test at once (other
	// packages, -count) never share a namespace.
	base := fmt.Sprintf("socklab%d-%d", os.Getpid(), labSeq.Add(1))
	l := &netLab{server: base + "-srv"}
	if out, err := ipCmd("netns", "add", l.server); err != nil {
		t.Skipf("cannot make a network namespace: %v: %s", err, out)
	}
	namespaces := []string{l.server}
	t.Cleanup(func() {
		for _, ns := range namespaces {
			if out, err := ipCmd("netns", "del", ns); err != nil {
				t.Errorf("remove namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	ip := func(args ...string) {
		t.Helper()
		if out, err := ipCmd(args...); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("-n", l.server, "link", "set", "lo", "up")
	ip("-n", l.server, "link", "add", "br0", "type", "bridge")
	ip("-n", l.server, "addr", "add", labServerIP+labPrefix, "dev", "br0")
	ip("-n", l.server, "link", "set", "br0", "up")
	for i := range n {
		ns := fmt.Sprintf("%s-c%d", base, i)
		if out, err := ipCmd("netns", "add", ns); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		namespaces = append(namespaces, ns)
		addr := fmt.Sprintf("10.201.0.%d", 10+i)
		// Both ends are made inside their namespaces: no name is ever
		// taken in the machine's own.
		peer := fmt.Sprintf("v%d", i)
		ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", l.server)
		ip("-n", l.server, "link", "set", peer, "master", "br0")
		ip("-n", l.server, "link", "set", peer, "up")
		ip("-n", ns, "link", "set", "lo", "up")
		ip("-n", ns, "addr", "add", addr+labPrefix, "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
		l.clients = append(l.clients, ns)
		l.clientIPs = append(l.clientIPs, addr)
	}
	return l
}

// ipCmd runs ip with args, bounded in time.
func ipCmd(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

// listen opens a TCP listener on addr inside namespace ns, from this
// process: the socket belongs to the namespace it was made in, whichever
// thread serves it later.
func listenIn(ns, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread moves to ns and is never unlocked: it ends with this
		// goroutine, so no other goroutine ever runs in ns by chance (the
		// runtime starts new threads from a template thread, never from a
		// locked one).
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		l, err := net.Listen("tcp", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

// arrival is when a request's first byte reached the server, and from
// where.
type arrival struct {
	at   time.Time
	from string // the client's IP address
}

// arrivalServer is an echo server that notes when each request of a
// lock-step client with fixed-size requests arrives: the server side of a
// schedule, seen from outside the load generator.
type arrivalServer struct {
	l    net.Listener
	size int

	mu       sync.Mutex
	arrivals []arrival
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// startArrivalServer serves echo on addr in namespace ns, noting the
// arrival of every size-byte request, until the test ends.
func startArrivalServer(t *testing.T, ns, addr string, size int) *arrivalServer {
	t.Helper()
	l, err := listenIn(ns, addr)
	if err != nil {
		t.Fatalf("listen in %s: %v", ns, err)
	}
	s := &arrivalServer{l: l, size: size, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *arrivalServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *arrivalServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	from, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	buf := make([]byte, 64<<10)
	var pos int64 // bytes read so far
	for {
		n, err := c.Read(buf)
		if n > 0 {
			now := time.Now()
			// Every request whose first byte is in this read arrived now.
			size := int64(s.size)
			starts := (pos+int64(n)+size-1)/size - (pos+size-1)/size
			s.mu.Lock()
			for range starts {
				s.arrivals = append(s.arrivals, arrival{at: now, from: from})
			}
			s.mu.Unlock()
			pos += int64(n)
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops the server and waits for its goroutines.
func (s *arrivalServer) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// seen returns the arrivals so far.
func (s *arrivalServer) seen() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrival(nil), s.arrivals...)
}

// runIn runs bin with args in namespace ns until it exits or ctx ends, and
// returns its exit code (-1 if it did not exit by itself) and output.
func (l *netLab) runIn(ctx context.Context, ns, bin string, args ...string) (code int, stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		return -1, o.String(), e.String(), ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), o.String(), e.String(), nil
	}
	return 0, o.String(), e.String(), err
}

// TestNetnsShards proves the mechanics of a sharded load the way a cluster
// runs it, on one machine: four `socklab load --shard I/4` processes, each
// in a network namespace of its own with its own address (as each pod of
// an Indexed Job has), load one server in a fifth namespace, with one
// --start-at. The server notes when each request arrives and from which
// shard: the shards' requests must interleave into the one schedule (the
// j-th due time of the whole load, j/rate after the start, from shard j mod
// 4), the merged achieved rate must be the requested one within 5%, and the
// merge must be the union of the shards' histograms.
func TestNetnsShards(t *testing.T) {
	const (
		shards = 4
		rate   = 200.0 // requests/s in all: a due time every 5 ms
		size   = 64
	)
	// -n bounds the run: it ends when its last request is answered, with
	// none left in flight, and takes measured at the rate asked.
	const requests = 600
	warmup, measured := 500*time.Millisecond, time.Duration(requests/rate*float64(time.Second))
	lab := newNetLab(t, shards)
	bin := socklabBinary(t)
	srv := startArrivalServer(t, lab.server, labServerIP+":0", size)
	target := srv.l.Addr().String()

	start := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tmp := t.TempDir()
	type result struct {
		i              int
		code           int
		stdout, stderr string
		err            error
	}
	results := make(chan result, shards)
	dirs := make([]string, shards)
	for i, ns := range lab.clients {
		dirs[i] = filepath.Join(tmp, fmt.Sprintf("shard-%d", i))
		args := []string{"load", "--shard", fmt.Sprintf("%d/%d", i, shards), "--start-at", start.Format(time.RFC3339Nano),
			"--rate", fmt.Sprint(rate), "-c", "8", "--warmup", warmup.String(), "-n", fmt.Sprint(requests),
			"--protocol", "echo", "--size", fmt.Sprint(size), "--allow-remote", "--quiet",
			"--tag", fmt.Sprintf("shard-%d", i), "--out", dirs[i], target}
		go func() {
			code, o, e, err := lab.runIn(ctx, ns, bin, args...)
			results <- result{i, code, o, e, err}
		}()
	}
	for range shards {
		r := <-results
		if r.err != nil || r.code != 0 {
			t.Fatalf("shard %d: exit %d, %v\n%s%s", r.i, r.code, r.err, r.stdout, r.stderr)
		}
	}

	// The server's view. Every request the schedule holds arrives, each
	// from the shard it belongs to: request j (due j/rate after the start)
	// from shard j mod 4, which makes 175 of the 700 each. A request is
	// sent at its due time or a little after, never before; so an
	// arrival's phase, (t - start)*rate - I reduced modulo 4, is a small
	// positive number for shard I's requests, and the median of each
	// shard's phases (robust to the requests a loaded machine sends late)
	// must be within a fraction of a slot of 0: shard I fills slots I,
	// I+4, I+8... of the one schedule, and no two shards are in phase.
	byIP := map[string]int{}
	for i, ip := range lab.clientIPs {
		byIP[ip] = i
	}
	total := int((warmup.Seconds() + measured.Seconds()) * rate)
	phases := make([][]float64, shards)
	inPlace := make([]int, shards)
	for _, a := range srv.seen() {
		i, ok := byIP[a.from]
		if !ok {
			t.Fatalf("an arrival from %s, no shard's address", a.from)
		}
		if a.at.Before(start) {
			t.Fatalf("shard %d sent a request %v before the start", i, start.Sub(a.at))
		}
		x := a.at.Sub(start).Seconds()*rate - float64(i)
		p := x - shards*math.Round(x/shards)
		phases[i] = append(phases[i], p)
		if p > -0.2 && p < 0.8 {
			inPlace[i]++
		}
	}
	for i := range shards {
		ps := phases[i]
		slices.Sort(ps)
		if len(ps) != total/shards {
			t.Errorf("shard %d: %d requests arrived, want its quarter of the schedule's %d", i, len(ps), total)
			continue
		}
		median := ps[len(ps)/2]
		t.Logf("shard %d: %d requests, %d in its own slots (j mod %d = %d), median phase %.3f slot", i, len(ps), inPlace[i], shards, i, median)
		if median < -0.2 || median > 0.5 {
			t.Errorf("shard %d: its requests arrive %.2f slots off its own (slot I mod %d): not interleaved into the one schedule", i, median, shards)
		}
	}

	// The merge: the whole load's rate, and the union of the shards'
	// histograms.
	var stdout, stderr bytes.Buffer
	merged := filepath.Join(tmp, "merged")
	if code := run(append([]string{"report", "merge", "--out", merged}, dirs...), &stdout, &stderr); code != 0 {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("%s", stdout.String())
	read := func(dir string) loadgen.Summary {
		s, err := loadgen.ReadSummaryFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	m := read(merged)
	if m.RequestedRate != rate || math.Abs(m.AchievedRate-rate) > 0.05*rate {
		t.Errorf("merged: achieved %g req/s of %g requested, want within 5%%", m.AchievedRate, m.RequestedRate)
	}
	union := loadgen.NewHistogram()
	for i, d := range dirs {
		s := read(d)
		if s.Shard == nil || s.Shard.Index != i || s.StartOffsetUs > float64(loadgen.DefaultStartTolerance/time.Microsecond) {
			t.Errorf("shard %d's summary: shard %+v, start offset %vus", i, s.Shard, s.StartOffsetUs)
		}
		h, err := s.Corrected.Decode()
		if err != nil {
			t.Fatal(err)
		}
		union.Merge(h)
	}
	got, err := m.Corrected.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(union) {
		t.Errorf("the merged histogram (%d values) is not the union of the shards' (%d)", got.TotalCount(), union.TotalCount())
	}
	for _, p := range loadgen.Percentiles {
		if g, w := got.ValueAtPercentile(p), union.ValueAtPercentile(p); g != w {
			t.Errorf("p%g: merged %d, union %d", p, g, w)
		}
	}
}
