package loadgen

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/iterative"
)

// Every request due is accounted for: these tests are issue 11's, the
// numbers that must not flatter a server that fails.

// TestOpenLoopUnservedConnections: an open loop against a server that
// serves one connection at a time (the iterative model) or that stalls all
// connections but the first for ever. The requests due on the stalled
// connections were never sent; they must be counted as unsent, the request
// each stalled connection has in flight as unfinished (or, against the
// iterative server, answered in the grace with the whole run as its
// latency), and the corrected p99 must be at least the run's length: the
// few requests the first connection got answered must not make the server
// look fast.
func TestOpenLoopUnservedConnections(t *testing.T) {
	srv, err := iterative.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var accepted atomic.Int32
	stall := newTestServer(t, func(c net.Conn) {
		if accepted.Add(1) > 1 {
			io.Copy(io.Discard, c) // read, never answer
			return
		}
		io.Copy(c, c)
	})
	servers := []struct {
		name, addr string
		stalls     bool // stalled connections stay stalled in the grace
	}{
		{name: "iterative", addr: srv.Addrs()[0].String()},
		{name: "stalls all but one", addr: stall.Addr(), stalls: true},
	}
	const warmup, d = 200 * time.Millisecond, time.Second
	for _, sv := range servers {
		for _, engine := range engines {
			t.Run(sv.name+"/"+engine, func(t *testing.T) {
				accepted.Store(0)
				res := run(t, Config{Addr: sv.addr, Engine: engine, Connections: 4, Rate: Constant(200),
					Warmup: warmup, Duration: d, Timeout: 10 * time.Second})
				s := res.Summary()
				t.Logf("answered %d, unsent %d, unfinished %d, errors %d, corrected p50 %s p99 %s, uncorrected p99 %s, success %s",
					s.Requests, s.Unsent, s.Unfinished, s.ErrorsTotal, FormatDuration(s.Corrected.P50Us),
					FormatDuration(s.Corrected.P99Us), FormatDuration(s.Uncorrected.P99Us), FormatRatio(s.SuccessRatio))
				if s.Requests == 0 {
					t.Fatal("nothing answered: the first connection is served")
				}
				// Three stalled connections, 50 requests/s each, for 1 s.
				if s.Unsent < 100 {
					t.Errorf("unsent %d, want the ~150 requests due on the stalled connections", s.Unsent)
				}
				if sv.stalls && s.Unfinished != 3 {
					t.Errorf("unfinished %d, want the 3 stalled connections' requests", s.Unfinished)
				}
				if p99 := time.Duration(s.Corrected.P99Us * 1e3); p99 < d {
					t.Errorf("corrected p99 %v, want at least the run's %v", p99, d)
				}
				if s.Served() || s.SuccessRatio > 0.5 {
					t.Errorf("served %v, success %s: a server that left most requests waiting passes", s.Served(), FormatRatio(s.SuccessRatio))
				}
				if s.Due != s.Requests+s.ErrorsTotal+s.Unsent+s.Unfinished || s.Due < 200 {
					t.Errorf("due %d: want every request of the schedule (~%d) accounted for", s.Due, int(200*d.Seconds()))
				}
			})
		}
	}
}

// TestRunShorterThanTimeout: a server that answers 1 KiB of a 4 KiB echo
// and goes silent, in a run shorter than the timeout. Nothing is answered,
// nothing times out: the requests in flight at the end are unfinished, with
// their age in the corrected histogram, and the run is a failure, not
// "0 requests, 0 errors".
func TestRunShorterThanTimeout(t *testing.T) {
	srv := newTestServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write(buf[:1024])
		io.Copy(io.Discard, c)
	})
	const d = 300 * time.Millisecond
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			res := run(t, Config{Addr: srv.Addr(), Engine: engine, Connections: 2, Duration: d, Client: clientSize(4096)})
			s := res.Summary()
			if s.Requests != 0 || s.ErrorsTotal != 0 || s.Unfinished != 2 {
				t.Fatalf("answered %d, errors %d, unfinished %d; want 0, 0 and the 2 in flight", s.Requests, s.ErrorsTotal, s.Unfinished)
			}
			if got := res.Corrected.TotalCount(); got != 2 {
				t.Errorf("corrected histogram holds %d values, want the 2 unfinished requests' ages", got)
			}
			if m := time.Duration(res.Corrected.Min()); m < d {
				t.Errorf("an unfinished request's age is %v, want at least the run's %v", m, d)
			}
			if s.Served() {
				t.Error("a run that answered nothing counts as served")
			}
		})
	}
}

// TestTimeoutsAreLatencies: a request that times out is an error and a
// latency of the time it took, so a server that answers one connection and
// leaves the others to time out cannot draw the lowest latency curve.
func TestTimeoutsAreLatencies(t *testing.T) {
	srv, err := iterative.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const timeout = 100 * time.Millisecond
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			res := run(t, Config{Addr: srv.Addrs()[0].String(), Engine: engine, Connections: 8,
				Duration: 500 * time.Millisecond, Timeout: timeout})
			to := res.Errors[Timeout]
			if to == 0 {
				t.Fatalf("no timeout among %d requests (errors %v)", res.Requests, res.Errors)
			}
			if got, want := res.Corrected.TotalCount(), res.Requests+to+res.Unfinished; got != want {
				t.Errorf("corrected histogram holds %d values, want %d answered + %d timeouts + %d unfinished", got, res.Requests, to, res.Unfinished)
			}
			if res.Uncorrected.TotalCount() != res.Requests {
				t.Errorf("uncorrected histogram holds %d values, want the %d answered", res.Uncorrected.TotalCount(), res.Requests)
			}
			// At least to values of the corrected histogram are timeouts.
			if n := countAtLeast(res.Corrected.Distribution(), int64(timeout)); n < to {
				t.Errorf("%d values at or above the timeout, want at least the %d timeouts", n, to)
			}
		})
	}
}

func countAtLeast(bars []hdr.Bar, v int64) int64 {
	var n int64
	for _, b := range bars {
		if b.From >= v*999/1000 {
			n += b.Count
		}
	}
	return n
}

// TestPendingConnectsCounted: connects still in progress when the run ends
// (a listener whose accept queue is full drops further SYNs) are counted,
// with their ages, and the request each would have carried is unsent.
func TestPendingConnectsCounted(t *testing.T) {
	addr := fullListener(t)
	const d = 300 * time.Millisecond
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			res := run(t, Config{Addr: addr, Engine: engine, Connections: 8, Duration: d,
				Timeout: 5 * time.Second, ConnectTimeout: 5 * time.Second})
			s := res.Summary()
			t.Logf("connecting %d, unsent %d, unfinished %d, errors %v", s.Connecting, s.Unsent, s.Unfinished, res.Errors)
			if s.Connecting < 4 {
				t.Fatalf("connecting %d, want most of the 8 connections", s.Connecting)
			}
			if s.Unsent != s.Connecting {
				t.Errorf("unsent %d, want one per pending connect (%d)", s.Unsent, s.Connecting)
			}
			// The connects began as the run started: their ages at its end
			// are about its length.
			if m := time.Duration(res.Connect.Max()); m < d*9/10 {
				t.Errorf("connect max %v, want a pending connect's age of about %v", m, d)
			}
			if s.Served() {
				t.Error("a run whose connects never completed counts as served")
			}
		})
	}
}

// fullListener returns the address of a TCP listener with the smallest
// accept queue that never accepts: once the queue is full the kernel drops
// further SYNs, and their connects stay in progress.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}).String()
}

// TestExchangeGrace: after the end of the run no request due after it is
// sent, but a reply to a request in flight still counts until the cut-off,
// and an open loop still sends the requests held up at the very end;
// abandon then counts what is left, once, with its age.
func TestExchangeGrace(t *testing.T) {
	const ms = int64(time.Millisecond)
	const end, cutoff = 1000 * ms, 1500 * ms
	grace := func(t *testing.T, cfg Config) *exchange {
		x := newTestExchange(t, cfg, end)
		x.r.cutoff = cutoff
		return x
	}
	t.Run("a reply in the grace counts", func(t *testing.T) {
		x := grace(t, Config{Pipeline: 2})
		reply := issueN(t, x, end-ms, 1)[0]
		if _, ok := x.issue(end); ok {
			t.Fatal("a request sent at the end")
		}
		if x.more(end) {
			t.Error("more requests to send after the end")
		}
		if o := feed(t, x, cutoff-1, reply, false); o != (outcome{done: 1}) || x.st.completed != 1 {
			t.Fatalf("outcome %+v, %d answered; want the reply counted", o, x.st.completed)
		}
	})
	t.Run("in flight at the cut-off: unfinished, with its age", func(t *testing.T) {
		x := grace(t, Config{})
		issueN(t, x, 100*ms, 1)
		x.abandon(cutoff)
		x.abandon(cutoff + ms) // counts once
		if x.st.unfinished != 1 || x.st.unsent != 0 {
			t.Fatalf("unfinished %d, unsent %d; want 1 and 0", x.st.unfinished, x.st.unsent)
		}
		if h := x.st.cur.corrected; h.TotalCount() != 1 || h.Max() < cutoff-100*ms-ms {
			t.Errorf("corrected: %d values, max %d; want the age %d", h.TotalCount(), h.Max(), cutoff-100*ms)
		}
		if x.st.cur.uncorrected.TotalCount() != 0 {
			t.Error("an unfinished request in the uncorrected histogram")
		}
	})
	t.Run("open loop: every request due and never sent is unsent", func(t *testing.T) {
		// 10 requests/s on one connection, pipeline 1: the first is sent
		// at 0 and never answered, the 9 due at 100 ms … 900 ms are not.
		x := grace(t, Config{Rate: Constant(10)})
		issueN(t, x, 0, 1)
		if _, ok := x.issue(500 * ms); ok {
			t.Fatal("a second request sent with the pipeline full")
		}
		x.abandon(cutoff)
		if x.st.unsent != 9 || x.st.unfinished != 1 {
			t.Fatalf("unsent %d, unfinished %d; want 9 and 1", x.st.unsent, x.st.unfinished)
		}
		h := x.st.cur.corrected
		if h.TotalCount() != 10 || h.Min() < cutoff-900*ms-ms || x.st.oldest != cutoff {
			t.Errorf("corrected: %d values from %d; oldest %d; want 10 ages from %d, oldest %d", h.TotalCount(), h.Min(), x.st.oldest, cutoff-900*ms, cutoff)
		}
	})
	t.Run("open loop: requests held up at the end go in the grace, older ones are unsent", func(t *testing.T) {
		// 10 requests/s on one connection, pipeline 1, the last 500 ms
		// of the run held: the request due at 0 is answered only at the
		// end; of the 9 due at 100 ms … 900 ms and held up by it, the 5
		// due in the last 500 ms still go, one by one, and the 4 older
		// ones are given up.
		x := grace(t, Config{Rate: Constant(10)})
		x.r.held = end - 500*ms
		reply := issueN(t, x, 0, 1)[0]
		if o := feed(t, x, end, reply, false); o.done != 1 {
			t.Fatalf("outcome %+v, want the reply counted in the grace", o)
		}
		if !x.more(end) {
			t.Fatal("nothing more to send at the end, with requests held up")
		}
		var sent []int64
		for at := end; ; at += ms {
			buf, ok := x.issue(at)
			if !ok {
				break
			}
			sent = append(sent, x.ring[x.head].due/ms)
			if o := feed(t, x, at, buf, false); o.done != 1 {
				t.Fatalf("outcome %+v", o)
			}
		}
		if fmt.Sprint(sent) != "[500 600 700 800 900]" || x.st.unsent != 4 || x.more(end+10*ms) {
			t.Errorf("sent the requests due at %v ms, %d unsent, more %v; want those due at 500 … 900 ms, 4 unsent, nothing more", sent, x.st.unsent, x.more(end+10*ms))
		}
		x.abandon(end + 10*ms)
		if x.st.unsent != 4 {
			t.Errorf("unsent %d after abandon, want the 4 counted once", x.st.unsent)
		}
	})
	t.Run("closed loop: a connect in progress leaves its request unsent", func(t *testing.T) {
		x := grace(t, Config{})
		x.reset()
		x.connecting(800 * ms)
		x.abandon(end)
		if x.st.connecting != 1 || x.st.unsent != 1 {
			t.Fatalf("connecting %d, unsent %d; want 1 and 1", x.st.connecting, x.st.unsent)
		}
		if c := x.st.cur.connect; c.Max() < 200*ms-ms {
			t.Errorf("connect max %d, want the pending connect's age %d", c.Max(), 200*ms)
		}
	})
	t.Run("short connection: its connect began before the end, its request goes in the grace", func(t *testing.T) {
		x := grace(t, Config{Reconnect: true})
		x.connecting(end - ms)
		x.connected(end + ms)
		if _, ok := x.issue(end + ms); !ok {
			t.Fatal("the short connection's request was not sent")
		}
		// Due when the connection was, sent when it was: its connect time
		// is in the corrected latency, and in a histogram of its own.
		if s := x.ring[x.head]; s.due != end-ms || s.sent != end+ms {
			t.Errorf("due %d, sent %d; want due at the connect %d, sent at %d", s.due, s.sent, end-ms, end+ms)
		}
	})
	t.Run("a timeout is a latency", func(t *testing.T) {
		x := grace(t, Config{Pipeline: 2, Timeout: 100 * time.Millisecond})
		issueN(t, x, 0, 2)
		err := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
		if o := x.fail(100*ms, err); o.class != Timeout {
			t.Fatalf("outcome %+v, want a timeout", o)
		}
		if x.st.errs[Timeout] != 2 || x.st.cur.corrected.TotalCount() != 2 || x.st.cur.corrected.Min() < 100*ms-ms {
			t.Errorf("timeouts %d, corrected %d values from %d; want 2 and 2 at 100 ms", x.st.errs[Timeout], x.st.cur.corrected.TotalCount(), x.st.cur.corrected.Min())
		}
		// Any other failure is not a latency.
		x.queue(200 * ms)
		x.fail(200*ms, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
		if x.st.cur.corrected.TotalCount() != 2 {
			t.Errorf("a reset recorded as a latency")
		}
	})
}
