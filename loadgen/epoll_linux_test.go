//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
)

// hotPath sets up one epoll-engine connection over a socketpair, echoed by
// the caller through peer, and returns a function that runs one request:
// the echo, the epoll_wait and the event's handling (read, match, record,
// next request).
func hotPath(t testing.TB, proto string) (step func(), c *econn, peer int) {
	cfg := Config{Network: "unix", Addr: "/tmp/socklab-unused", Protocol: proto, Requests: 1 << 40}
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, base: time.Now(), end: maxInt64, cutoff: maxInt64, held: maxInt64, ival: int64(time.Hour),
		pub: make(chan *ivHists, 4), free: make(chan *ivHists, 4)}
	r.proto, _ = protocol.Lookup(cfg.Protocol)
	th, err := newEthread(r, unix.AF_UNIX, &unix.SockaddrUnix{Name: cfg.Addr}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(th.closeFds)
	c, err = newEconn(th, 0)
	if err != nil {
		t.Fatal(err)
	}
	th.conns = append(th.conns, c)
	th.active = 1
	th.events = make([]unix.EpollEvent, 4)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	c.fd = fds[0]
	if !c.register(unix.EPOLLIN) {
		t.Fatal("register failed")
	}
	c.connected(th.now())
	buf := make([]byte, 64<<10)
	step = func() {
		n, err := unix.Read(fds[1], buf)
		if err != nil {
			panic(fmt.Sprintf("peer read: %v", err))
		}
		if _, err := unix.Write(fds[1], buf[:n]); err != nil {
			panic(fmt.Sprintf("peer write: %v", err))
		}
		k, err := unix.EpollWait(th.epfd, th.events, 1000)
		if err != nil || k != 1 {
			panic(fmt.Sprintf("epoll_wait = %d, %v", k, err))
		}
		c.onEvent(th.events[0].Events)
	}
	return step, c, fds[1]
}

// TestEpollHotPathAllocs checks that a request through the epoll engine's
// loop allocates nothing once the histograms' buckets exist.
func TestEpollHotPathAllocs(t *testing.T) {
	step, c, _ := hotPath(t, "echo")
	for range 2000 {
		step()
	}
	before := c.t.cur.uncorrected.TotalCount()
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per request, want 0", a)
	}
	if got := c.t.cur.uncorrected.TotalCount() - before; got != 1001 {
		t.Errorf("%d requests recorded during the measure, want 1001", got)
	}
	if c.t.errs != [numClasses]int64{} {
		t.Errorf("errors %v (%v)", c.t.errs, c.t.firstErr)
	}
}

// BenchmarkLoadEcho runs b.N echo requests over loopback TCP through each
// engine against the in-process goroutine echo server (-benchmem shows the
// allocations per request, server included).
func BenchmarkLoadEcho(b *testing.B) {
	for _, engine := range engines {
		for _, conns := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/c%d", engine, conns), func(b *testing.B) {
				addr := startEchoTB(b)
				b.ReportAllocs()
				b.ResetTimer()
				res, err := Run(context.Background(), Config{Addr: addr, Engine: engine, Connections: conns, Requests: int64(max(b.N, conns))})
				if err != nil {
					b.Fatal(err)
				}
				if res.TotalErrors() != 0 {
					b.Fatalf("errors %v", res.FirstErrors)
				}
			})
		}
	}
}
