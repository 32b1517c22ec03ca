package reactor

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
)

// TestStreamHotPathAllocs: one echo request through a loop's per-event
// path (the poller's wait, the connection's read, its core, its write)
// allocates nothing, whatever the poller.
func TestStreamHotPathAllocs(t *testing.T) {
	for _, name := range []string{"select", "poll", "epoll"} {
		t.Run(name, func(t *testing.T) {
			step, c := hotPath(t, name)
			for range 100 {
				step()
			}
			if a := testing.AllocsPerRun(1000, step); a != 0 {
				t.Errorf("%v allocations per request, want 0", a)
			}
			if c.closed {
				t.Fatal("the connection closed during the measure")
			}
		})
	}
}

// BenchmarkStreamHotPath is one 64-byte echo request through a loop's
// per-event path over a socket pair, the client in the same goroutine.
func BenchmarkStreamHotPath(b *testing.B) {
	for _, name := range []string{"select", "poll", "epoll"} {
		b.Run(name, func(b *testing.B) {
			step, _ := hotPath(b, name)
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
		})
	}
}

// hotPath serves echo on one end of a socket pair through a loop over
// poller name, and returns one request-reply step driven from the other.
func hotPath(t testing.TB, name string) (step func(), c *stream) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := fds[1]
	t.Cleanup(func() { unix.Close(peer) })
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	p, err := NewPoller(name)
	if err != nil {
		t.Fatal(err)
	}
	proto, err := protocol.Lookup("echo")
	if err != nil {
		t.Fatal(err)
	}
	newSession, err := proto.New(protocol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ls := &loopServer{srv: &Server{}, loop: NewLoop(p, log), log: log, newSession: newSession,
		conns: make(map[*stream]struct{})}
	ls.serve(fds[0])
	t.Cleanup(func() {
		for c := range ls.conns {
			c.do(c.core.Abort(), c.timerAt)
		}
		p.Close()
	})
	for c = range ls.conns {
	}
	if c == nil {
		t.Fatal("the connection was refused")
	}
	req := bytes.Repeat([]byte{'x'}, 64)
	resp := make([]byte, len(req))
	l := ls.loop
	step = func() {
		if _, err := unix.Write(peer, req); err != nil {
			panic(err)
		}
		// One turn of Loop.Run, without its timers and posted functions.
		evs, err := l.p.Wait(-1, l.evs)
		if err != nil {
			panic(err)
		}
		for _, e := range evs {
			if h := l.handlers[e.Fd]; h != nil {
				h.Ready(e.Events)
			}
		}
		if _, err := io.ReadFull(fdReader(peer), resp); err != nil {
			panic(err)
		}
	}
	return step, c
}

// fdReader reads a blocking descriptor.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	n, err := unix.Read(int(r), p)
	if n < 0 {
		n = 0
	}
	return n, err
}
