package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
)

// TestExchangeRequestsPerConn: a short connection carries PerConn requests,
// the first due when the connection was and the next ones when they are
// sent, and only the last reply ends it.
func TestExchangeRequestsPerConn(t *testing.T) {
	x := newTestExchange(t, Config{PerConn: 3}, maxInt64)
	for i := range 3 {
		at := int64(10 * (i + 1))
		reply := issueN(t, x, at, 1)[0]
		if s := x.ring[x.head]; i == 0 && (s.due != 0 || s.sent != at) || i > 0 && s.due != at {
			t.Fatalf("request %d: due %d, sent %d; want the first due at the connect (0), each sent at %d", i, s.due, s.sent, at)
		}
		want := outcome{done: 1}
		if i == 2 {
			want.next = hangUp
		}
		if o := feed(t, x, at+5, reply, false); o != want {
			t.Fatalf("reply %d: outcome %+v, want %+v", i, o, want)
		}
	}
	if _, ok := x.issue(100); ok {
		t.Fatal("a fourth request issued on a connection of three")
	}
}

// TestExchangeCloseServer: with CloseServer the client does not close after
// its last reply: it sends the protocol's farewell (hello's exit), waits
// for the server's EOF and only then hangs up; a server that keeps the
// connection past the timeout is class no_close, not a timeout, and adds
// no latency.
func TestExchangeCloseServer(t *testing.T) {
	greet := []byte(protocol.Line.Frame(protocol.HelloGreeting))
	start := func(t *testing.T) (*exchange, []byte) {
		x := newTestExchange(t, Config{Protocol: "hello", PerConn: 2, Close: CloseServer, Timeout: 100 * time.Millisecond}, maxInt64)
		if o := feed(t, x, 1, greet, false); o.next != goOn {
			t.Fatalf("greeting: %+v", o)
		}
		var last []byte
		for i := range 2 {
			buf, ok := x.issue(int64(10 + i))
			if !ok {
				t.Fatalf("request %d not issued", i)
			}
			name := strings.TrimSuffix(string(buf), "\n")
			last = []byte("Hello, " + name + "!\n")
			x.wrote(len(x.owed()))
			if o := feed(t, x, int64(20+i), last, false); o.next != goOn || o.done != 1 {
				t.Fatalf("reply %d: outcome %+v, want goOn with one done", i, o)
			}
		}
		return x, last
	}
	t.Run("the server closes first", func(t *testing.T) {
		x, _ := start(t)
		if !x.closing || !x.awaits() {
			t.Fatal("the last reply did not start the wait for the server's close")
		}
		if got := string(x.owed()); got != "exit\n" {
			t.Fatalf("owed %q, want the farewell exit", got)
		}
		if lo, _ := x.window(21); lo != 21+int64(100*time.Millisecond) {
			t.Errorf("window from %d, want the close's timeout", lo)
		}
		if o := feed(t, x, 30, nil, true); o.next != hangUp {
			t.Fatalf("EOF: outcome %+v, want hangUp", o)
		}
		if errCount(x) != 0 {
			t.Errorf("errors %v", x.st.errs)
		}
	})
	t.Run("the server keeps the connection", func(t *testing.T) {
		x, _ := start(t)
		before := recorded(x)
		at := 21 + int64(100*time.Millisecond)
		if !x.overdue(at) {
			t.Fatal("not overdue after the timeout")
		}
		o := x.fail(at, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
		if o.class != NoClose || x.st.errs[NoClose] != 1 || errCount(x) != 1 {
			t.Fatalf("outcome %+v, errors %v; want one no_close", o, x.st.errs)
		}
		if recorded(x) != before {
			t.Error("the wait for the close was recorded as a latency")
		}
	})
	t.Run("bytes after the last reply", func(t *testing.T) {
		x, _ := start(t)
		if o := feed(t, x, 30, []byte("more\n"), false); o.class != WrongReply {
			t.Fatalf("outcome %+v, want a wrong reply", o)
		}
	})
}

// TestClassifyLocalLimits: the client's own limits are classes of their
// own, whichever engine's error wraps them, and carry advice.
func TestClassifyLocalLimits(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Class
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, PortsExhausted},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, FdLimit},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}, FdLimit},
	} {
		if got := classify(tc.err, true); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if tc.want.Advice() == "" {
			t.Errorf("%v has no advice", tc.want)
		}
	}
	s := Summary{ErrorsTotal: 3, Errors: map[string]int64{"ports_exhausted": 3}}
	var b bytes.Buffer
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ip_local_port_range", "tcp_tw_reuse", "--close server", "127.0.0.2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the summary of ports_exhausted errors does not mention %s:\n%s", want, b.String())
		}
	}
}

// timeWaits counts the TIME_WAIT sockets of /proc/net/tcp whose local port
// is port (local) or whose remote port is (!local).
func timeWaits(t *testing.T, port int, local bool) int {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || fs[3] != "06" { // TCP_TIME_WAIT
			continue
		}
		a := fs[1]
		if !local {
			a = fs[2]
		}
		_, ps, _ := strings.Cut(a, ":")
		if p, err := strconv.ParseInt(ps, 16, 32); err == nil && int(p) == port {
			n++
		}
	}
	return n
}

// TestConnectRateHolds: an open loop of short connections makes its
// connects at the rate asked, within 5 %, each with its requests, in both
// engines and with either side closing first; and TIME_WAIT lands on the
// side that closed first.
func TestConnectRateHolds(t *testing.T) {
	const rate, per = 400, 3
	d := time.Second
	for _, tc := range []struct {
		engine, network, close, protocol string
	}{
		{EngineEpoll, "tcp", CloseClient, "echo"},
		{EngineGoroutine, "tcp", CloseClient, "echo"},
		{EngineEpoll, "tcp", CloseServer, "hello"},
		{EngineGoroutine, "tcp", CloseServer, "hello"},
		{EngineEpoll, "unix", CloseClient, "echo"},
		{EngineGoroutine, "unix", CloseServer, "hello"},
	} {
		t.Run(fmt.Sprintf("%s %s %s closes", tc.engine, tc.network, tc.close), func(t *testing.T) {
			var addr string
			if tc.protocol == "hello" {
				addr = startHelloOn(t, tc.network)
			} else {
				addr = startEcho(t, tc.network)
			}
			port := 0
			if tc.network == "tcp" {
				_, ps, _ := net.SplitHostPort(addr)
				port, _ = strconv.Atoi(ps)
			}
			// TIME_WAIT sockets of this port left by an earlier server
			// (-count) are not this run's.
			client0, server0 := timeWaits(t, port, false), timeWaits(t, port, true)
			res := run(t, Config{Network: tc.network, Addr: addr, Protocol: tc.protocol, Engine: tc.engine,
				Rate: Constant(rate), PerConn: per, Close: tc.close, Connections: 40, Duration: d, Timeout: 2 * time.Second})
			want := int64(rate * d.Seconds())
			if res.Connects < want*95/100 || res.Connects > want*105/100 {
				t.Errorf("%d connects, want %d within 5%%", res.Connects, want)
			}
			if res.TotalErrors() != 0 || res.Requests != per*res.Connects {
				t.Errorf("%d requests on %d connections, errors %v (%v); want %d each and none failed",
					res.Requests, res.Connects, res.Errors, res.FirstErrors, per)
			}
			if n := res.FirstByte.TotalCount(); n != res.Connects || res.FirstByteUncorrected.TotalCount() != n || res.Connect.TotalCount() != n {
				t.Errorf("first byte of %d connections, connect of %d; want %d", n, res.Connect.TotalCount(), res.Connects)
			}
			if port == 0 {
				return
			}
			closer, other := timeWaits(t, port, false)-client0, timeWaits(t, port, true)-server0
			if tc.close == CloseServer {
				closer, other = other, closer
			}
			if n := int(res.Connects); closer < n*9/10 || other > n/10 {
				t.Errorf("TIME_WAIT: %d on the side that closed first (%s), %d on the other; want about %d and none", closer, tc.close, other, n)
			}
		})
	}
}
