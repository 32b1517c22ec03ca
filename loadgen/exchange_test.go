package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
)

// newTestExchange returns the exchange of the first connection of cfg,
// connected at time 0, with no socket and no clock: the test says when each
// event happens. The measured part runs from 0 to end, with no grace after
// it (cutoff = end: see newGraceExchange); its stats (one interval of an
// hour, so nothing is handed to a collector) are the exchange's own.
func newTestExchange(t *testing.T, cfg Config, end int64) *exchange {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:1"
	}
	if cfg.Duration == 0 && cfg.Requests == 0 {
		cfg.Requests = 1 << 40
	}
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, sched: cfg.Rate, end: end, cutoff: end, held: end, ival: int64(time.Hour)}
	r.proto, _ = protocol.Lookup(cfg.Protocol)
	st := new(stats)
	st.init(r)
	x := new(exchange)
	if err := x.init(r, st, 0); err != nil {
		t.Fatal(err)
	}
	x.connected(0) // a connect begun (connAt) and done at 0
	return x
}

// feed hands p to x as one read at t, as an engine does: the bytes go into
// recvBuf, then received is told how many arrived and whether EOF followed.
func feed(t *testing.T, x *exchange, at int64, p []byte, eof bool) outcome {
	t.Helper()
	if n := copy(x.recvBuf(), p); n < len(p) {
		t.Fatalf("%d bytes do not fit in the receive buffer's %d", len(p), n)
	}
	var err error
	if eof {
		err = io.EOF
	}
	return x.received(at, len(p), err)
}

// issueN issues n requests at t and returns their echo replies, in order.
func issueN(t *testing.T, x *exchange, at int64, n int) [][]byte {
	t.Helper()
	var replies [][]byte
	for range n {
		buf, ok := x.issue(at)
		if !ok {
			t.Fatalf("request %d of %d not issued", len(replies)+1, n)
		}
		replies = append(replies, bytes.Clone(buf))
	}
	if n == len(x.ring) {
		if _, ok := x.issue(at); ok {
			t.Fatalf("a request beyond the pipeline of %d was issued", n)
		}
	}
	return replies
}

func recorded(x *exchange) int64 { return x.st.cur.corrected.TotalCount() }

func errCount(x *exchange) int64 {
	var n int64
	for _, e := range x.st.errs {
		n += e
	}
	return n
}

// TestExchangeReplies feeds echo replies cut at various points: however
// the reads split them, each request completes when its last byte arrives,
// not before, and its latency is recorded once.
func TestExchangeReplies(t *testing.T) {
	tests := []struct {
		name     string
		pipeline int
		cuts     []int // offsets in the concatenated replies (64 bytes each) where a read ends
		wantDone []int // requests completed by each read
	}{
		{name: "one reply in one read", pipeline: 1, wantDone: []int{1}},
		{name: "a reply split over three reads", pipeline: 1, cuts: []int{1, 30}, wantDone: []int{0, 0, 1}},
		{name: "several replies in one read", pipeline: 3, wantDone: []int{3}},
		{name: "reads across reply boundaries", pipeline: 3, cuts: []int{70, 150}, wantDone: []int{1, 1, 1}},
		{name: "a read ending on a boundary", pipeline: 2, cuts: []int{64}, wantDone: []int{1, 1}},
		{name: "one byte at a time", pipeline: 1, cuts: func() []int {
			var c []int
			for i := 1; i < 64; i++ {
				c = append(c, i)
			}
			return c
		}(), wantDone: append(make([]int, 63), 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExchange(t, Config{Pipeline: tc.pipeline}, maxInt64)
			all := bytes.Join(issueN(t, x, 10, tc.pipeline), nil)
			var got []int
			from := 0
			for _, to := range append(slices.Clone(tc.cuts), len(all)) {
				o := feed(t, x, 20, all[from:to], false)
				if o.next != goOn {
					t.Fatalf("read of [%d:%d]: outcome %+v, want goOn", from, to, o)
				}
				got = append(got, o.done)
				from = to
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantDone) {
				t.Errorf("completed per read %v, want %v", got, tc.wantDone)
			}
			if n := recorded(x); n != int64(tc.pipeline) || errCount(x) != 0 {
				t.Errorf("%d latencies and errors %v, want %d and none", n, x.st.errs, tc.pipeline)
			}
			if !x.idle() {
				t.Errorf("%d requests still in flight", x.n)
			}
		})
	}
}

// TestExchangeFailures: every way a reply can be wrong or cut short is an
// error of its class, counted once per request in flight (at least once),
// and records no latency for the requests that failed.
func TestExchangeFailures(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		pipeline  int
		read      func(replies [][]byte) (p []byte, eof bool)
		wantClass Class
		wantDone  int   // completed before the failure, in the same read
		wantErrs  int64 // errors counted
	}{
		{
			name: "a wrong byte", pipeline: 2,
			read: func(r [][]byte) ([]byte, bool) {
				p := bytes.Clone(r[0])
				p[10] ^= 0xff
				return p, false
			},
			wantClass: WrongReply, wantErrs: 2,
		},
		{
			name: "a wrong byte in the second reply of a read", pipeline: 2,
			read: func(r [][]byte) ([]byte, bool) {
				p := bytes.Join(r, nil)
				p[len(p)-1] ^= 0xff
				return p, false
			},
			wantClass: WrongReply, wantDone: 1, wantErrs: 1,
		},
		{
			name: "EOF mid-reply", pipeline: 1,
			read:      func(r [][]byte) ([]byte, bool) { return r[0][:40], true },
			wantClass: ShortReply, wantErrs: 1,
		},
		{
			name: "EOF before any reply", pipeline: 3,
			read:      func([][]byte) ([]byte, bool) { return nil, true },
			wantClass: ShortReply, wantErrs: 3,
		},
		{
			name: "bytes after the last reply", pipeline: 1,
			read:      func(r [][]byte) ([]byte, bool) { return append(bytes.Clone(r[0]), 'x'), false },
			wantClass: WrongReply, wantDone: 1, wantErrs: 1,
		},
		{
			name: "unsolicited bytes", pipeline: 0,
			read:      func([][]byte) ([]byte, bool) { return []byte("hello"), false },
			wantClass: WrongReply, wantErrs: 1,
		},
		{
			name: "EOF in the greeting", cfg: Config{Protocol: "hello"}, pipeline: 0,
			read:      func([][]byte) ([]byte, bool) { return []byte("Welc"), true },
			wantClass: ShortReply, wantErrs: 1,
		},
		{
			name: "a refusal", cfg: Config{Protocol: "file", Client: protocol.ClientOptions{Name: "f"}}, pipeline: 1,
			read:      func([][]byte) ([]byte, bool) { return []byte("no such file\n"), false },
			wantClass: Refused, wantErrs: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Pipeline = max(tc.pipeline, 1)
			x := newTestExchange(t, cfg, maxInt64)
			replies := issueN(t, x, 10, tc.pipeline)
			p, eof := tc.read(replies)
			o := feed(t, x, 20, p, eof)
			want := outcome{next: failed, done: tc.wantDone, class: tc.wantClass}
			if o != want {
				t.Fatalf("outcome %+v, want %+v", o, want)
			}
			if got := x.st.errs[tc.wantClass]; got != tc.wantErrs || errCount(x) != got {
				t.Errorf("errors %v, want %d %s and no other", x.st.errs, tc.wantErrs, tc.wantClass)
			}
			if x.st.firstErr[tc.wantClass] == "" {
				t.Errorf("no first error kept for %s", tc.wantClass)
			}
			if n := recorded(x); n != int64(tc.wantDone) {
				t.Errorf("%d latencies recorded, want %d", n, tc.wantDone)
			}
			if !x.idle() || len(x.owed()) != 0 || x.rlen != 0 {
				t.Errorf("the failed exchange is not reset: %d in flight, %d bytes owed, %d kept", x.n, len(x.owed()), x.rlen)
			}
		})
	}
}

// TestExchangeReadError: a read's own failure is counted by its class, the
// request in flight with it.
func TestExchangeReadError(t *testing.T) {
	x := newTestExchange(t, Config{}, maxInt64)
	issueN(t, x, 10, 1)
	err := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	if o := x.received(20, 0, err); o != (outcome{next: failed, class: Reset}) {
		t.Fatalf("outcome %+v, want a reset", o)
	}
	if x.st.errs[Reset] != 1 || errCount(x) != 1 {
		t.Errorf("errors %v, want one reset", x.st.errs)
	}
}

// TestExchangeAfterEnd: nothing that a read brings at or after the end of
// the run completes a request or counts as an error, even a whole reply:
// the request is unfinished.
func TestExchangeAfterEnd(t *testing.T) {
	const end = 1000
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		recv func(x *exchange, reply []byte) outcome
	}{
		{name: "a whole reply", recv: func(x *exchange, reply []byte) outcome {
			copy(x.recvBuf(), reply)
			return x.received(end, len(reply), nil)
		}},
		{name: "the rest of a reply", recv: func(x *exchange, reply []byte) outcome {
			copy(x.recvBuf(), reply[:10])
			if o := x.received(end-1, 10, nil); o != (outcome{}) {
				return o
			}
			copy(x.recvBuf(), reply[10:])
			return x.received(end, len(reply)-10, nil)
		}},
		{name: "EOF", recv: func(x *exchange, _ []byte) outcome { return x.received(end+5, 0, io.EOF) }},
		{name: "a reset", recv: func(x *exchange, _ []byte) outcome { return x.received(end, 0, reset) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExchange(t, Config{}, end)
			reply := issueN(t, x, 10, 1)[0]
			if o := tc.recv(x, reply); o != (outcome{next: runOver}) {
				t.Fatalf("outcome %+v, want runOver", o)
			}
			if recorded(x) != 0 || errCount(x) != 0 {
				t.Fatalf("%d latencies and errors %v after the end, want none", recorded(x), x.st.errs)
			}
			x.abandon(end)
			if x.st.unfinished != 1 || !x.idle() {
				t.Errorf("unfinished %d, in flight %d after abandon; want 1 and 0", x.st.unfinished, x.n)
			}
		})
	}
	// One nanosecond earlier the same reply counts.
	x := newTestExchange(t, Config{}, end)
	reply := issueN(t, x, 10, 1)[0]
	if o := feed(t, x, end-1, reply, false); o != (outcome{done: 1}) || recorded(x) != 1 {
		t.Errorf("reply just before the end: outcome %+v, %d recorded; want one completion", o, recorded(x))
	}
}

// TestExchangeHangUp: the exchange ends without failing when the server
// closes after a stream that ends at EOF (banner), or when a short
// connection's one request is done.
func TestExchangeHangUp(t *testing.T) {
	t.Run("banner completes at EOF", func(t *testing.T) {
		x := newTestExchange(t, Config{Protocol: "banner"}, maxInt64)
		if buf, ok := x.issue(0); !ok || len(buf) != 0 {
			t.Fatalf("issue = %q, %v; want an empty request", buf, ok)
		}
		want := []byte(protocol.BannerReply("", protocol.Line))
		if o := feed(t, x, 5, want, false); o != (outcome{}) {
			t.Fatalf("banner before EOF: outcome %+v, want goOn and nothing done", o)
		}
		if o := feed(t, x, 6, nil, true); o != (outcome{next: hangUp, done: 1}) {
			t.Fatalf("EOF: outcome %+v, want hangUp with one done", o)
		}
	})
	t.Run("short connection", func(t *testing.T) {
		x := newTestExchange(t, Config{Reconnect: true}, maxInt64)
		reply := issueN(t, x, 10, 1)[0]
		if _, ok := x.issue(11); ok {
			t.Fatal("a second request issued on a short connection")
		}
		if o := feed(t, x, 20, reply, false); o != (outcome{next: hangUp, done: 1}) {
			t.Fatalf("outcome %+v, want hangUp with one done", o)
		}
		if errCount(x) != 0 {
			t.Errorf("errors %v", x.st.errs)
		}
	})
}

// TestExchangeGreetingAndReplier: a greeting is matched before any reply,
// and what a protocol.Replier hands out is owed to the server as soon as
// the Match that produced it returns.
func TestExchangeGreetingAndReplier(t *testing.T) {
	t.Run("hello greeting and reply in one read", func(t *testing.T) {
		x := newTestExchange(t, Config{Protocol: "hello"}, maxInt64)
		if x.idle() {
			t.Fatal("the greeting is not awaited")
		}
		req, _ := x.issue(1)
		if string(req) != "socklab-0\n" {
			t.Fatalf("request %q", req)
		}
		if o := feed(t, x, 2, []byte("Welcome!\nHello, socklab-0!\n"), false); o != (outcome{done: 1}) {
			t.Fatalf("outcome %+v, want one done", o)
		}
	})
	t.Run("file get: ok owed after yes:SIZE", func(t *testing.T) {
		x := newTestExchange(t, Config{Protocol: "file", Client: protocol.ClientOptions{Name: "f"}}, maxInt64)
		x.queue(1)
		if got := string(x.owed()); got != "get>f\n" {
			t.Fatalf("owed %q, want the request", got)
		}
		x.wrote(2)
		x.wrote(4)
		if len(x.owed()) != 0 {
			t.Fatalf("owed %q after all was written", x.owed())
		}
		// The matcher takes nothing of a line not yet whole: the exchange
		// keeps it for the next read.
		for _, p := range []string{"ye", "s:3", "\n"} {
			if o := feed(t, x, 2, []byte(p), false); o != (outcome{}) {
				t.Fatalf("read %q: outcome %+v, want goOn", p, o)
			}
		}
		if got := string(x.owed()); got != "ok\n" {
			t.Fatalf("owed %q after yes:3, want ok", got)
		}
		x.wrote(3)
		if o := feed(t, x, 3, []byte("abc"), false); o != (outcome{done: 1}) {
			t.Fatalf("bytes: outcome %+v, want one done", o)
		}
		if len(x.owed()) != 0 {
			t.Errorf("owed %q, want nothing more", x.owed())
		}
	})
	t.Run("file get of an empty file: done and ok owed at once", func(t *testing.T) {
		x := newTestExchange(t, Config{Protocol: "file", Client: protocol.ClientOptions{Name: "f"}}, maxInt64)
		issueN(t, x, 1, 1)
		if o := feed(t, x, 2, []byte("yes:0\n"), false); o != (outcome{done: 1}) {
			t.Fatalf("outcome %+v, want one done", o)
		}
		if got := string(x.owed()); got != "ok\n" {
			t.Errorf("owed %q, want ok: the server waits for it even for no bytes", got)
		}
	})
}

// TestExchangeDatagram: over a datagram network each read is one whole
// reply, nothing more and nothing less.
func TestExchangeDatagram(t *testing.T) {
	tests := []struct {
		name      string
		pipeline  int
		reconnect bool
		read      func(reply []byte) []byte
		want      outcome
	}{
		{name: "the reply", pipeline: 1, read: func(r []byte) []byte { return r }, want: outcome{done: 1}},
		{name: "the reply with short connections", pipeline: 1, reconnect: true, read: func(r []byte) []byte { return r }, want: outcome{next: hangUp, done: 1}},
		{name: "a truncated reply", pipeline: 1, read: func(r []byte) []byte { return r[:20] }, want: outcome{next: failed, class: ShortReply}},
		{name: "bytes after the reply", pipeline: 1, read: func(r []byte) []byte { return append(r, 0) }, want: outcome{next: failed, class: WrongReply}},
		{name: "unsolicited", read: func([]byte) []byte { return []byte("x") }, want: outcome{next: failed, class: WrongReply}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExchange(t, Config{Network: "udp", Reconnect: tc.reconnect}, maxInt64)
			if !x.idle() {
				t.Fatal("a greeting is awaited over udp")
			}
			var reply []byte
			if tc.pipeline > 0 {
				reply = issueN(t, x, 1, 1)[0]
			}
			if o := feed(t, x, 2, tc.read(reply), false); o != tc.want {
				t.Fatalf("outcome %+v, want %+v", o, tc.want)
			}
			// The next datagram starts at the buffer's start again.
			if len(x.recvBuf()) != 64<<10+1 {
				t.Errorf("receive buffer of %d bytes, want a whole datagram's and one", len(x.recvBuf()))
			}
		})
	}
}

// TestExchangeWindow: the wake-up an engine must arm is the head request's
// timeout with a quarter of slack, or the open loop's next due time if it
// comes first; overdue says whether the wake-up is the timeout.
func TestExchangeWindow(t *testing.T) {
	const sec = int64(time.Second)
	t.Run("closed loop", func(t *testing.T) {
		x := newTestExchange(t, Config{Timeout: time.Second, Pipeline: 2}, maxInt64)
		if lo, _ := x.window(0); lo != maxInt64 {
			t.Errorf("window with nothing in flight starts at %d, want never", lo)
		}
		x.issue(100)
		x.issue(200)
		if lo, hi := x.window(200); lo != 100+sec || hi != 100+sec+sec/4 {
			t.Errorf("window [%d, %d], want the oldest request's timeout [%d, %d]", lo, hi, 100+sec, 100+sec+sec/4)
		}
		if x.overdue(100+sec-1) || !x.overdue(100+sec) {
			t.Errorf("overdue at 1s-1ns %v, at 1s %v; want false, true", x.overdue(100+sec-1), x.overdue(100+sec))
		}
	})
	t.Run("greeting", func(t *testing.T) {
		x := newTestExchange(t, Config{Protocol: "hello", Timeout: time.Second}, maxInt64)
		if lo, hi := x.window(0); lo != sec || hi != sec+sec/4 {
			t.Errorf("window [%d, %d], want the greeting's timeout from the connect", lo, hi)
		}
		if !x.overdue(sec) {
			t.Error("greeting not overdue after its timeout")
		}
	})
	t.Run("open loop", func(t *testing.T) {
		// 10 requests/s on one connection: one due every 100 ms.
		x := newTestExchange(t, Config{Timeout: time.Second, Rate: Constant(10), Pipeline: 4}, maxInt64)
		if _, ok := x.issue(0); !ok {
			t.Fatal("the first request, due at 0, not issued")
		}
		if _, ok := x.issue(sec / 20); ok {
			t.Fatal("a request issued before it was due")
		}
		if lo, hi := x.window(sec / 20); lo != sec/10 || hi != sec/10 {
			t.Errorf("window [%d, %d], want exactly the next due time %d", lo, hi, sec/10)
		}
		if x.overdue(sec / 10) {
			t.Error("a due time taken for a timeout")
		}
	})
}

// TestExchangeConnectFailed: a failed connect is counted by its class,
// spends its request of the quota in a closed loop (so a run bounded by -n
// ends against a server that refuses everything), and backs off from 1 ms,
// doubling, to at most 100 ms.
func TestExchangeConnectFailed(t *testing.T) {
	x := newTestExchange(t, Config{Requests: 3}, maxInt64)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	ms := int64(time.Millisecond)
	var waits []int64
	for i := range 3 {
		if !x.canIssue() {
			t.Fatalf("quota spent after %d failed connects, want 3", i)
		}
		at := int64(i) * 1000
		waits = append(waits, (x.connectFailed(at, refused)-at)/ms)
	}
	if x.canIssue() {
		t.Error("quota left after 3 failed connects for 3 requests")
	}
	if x.st.errs[ConnectRefused] != 3 || errCount(x) != 3 {
		t.Errorf("errors %v, want 3 connect_refused", x.st.errs)
	}
	for range 6 {
		x.connectFailed(0, refused)
	}
	if fmt.Sprint(waits) != "[1 2 4]" || x.backoff != 100*ms {
		t.Errorf("back-off %v ms, then %d ms; want [1 2 4] ms, then 100", waits, x.backoff/ms)
	}
	x.connected(0)
	if x.backoff != 0 {
		t.Errorf("back-off %d after a connect, want 0", x.backoff)
	}
}

// TestExchangeAllocs: issuing a request and matching its reply allocates
// nothing, whatever the engine around it.
func TestExchangeAllocs(t *testing.T) {
	x := newTestExchange(t, Config{Pipeline: 2}, maxInt64)
	reply := make([]byte, 0, 128)
	now := int64(0)
	step := func() {
		now++
		x.queue(now)
		reply = append(reply[:0], x.owed()...)
		x.wrote(len(x.owed()))
		copy(x.recvBuf(), reply)
		if o := x.received(now, len(reply), nil); o.next != goOn || o.done != 2 {
			panic(fmt.Sprintf("outcome %+v", o))
		}
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per exchange of two requests, want 0", a)
	}
}

// FuzzExchangeSplits: however the reads cut a run of pipelined echo
// replies, every request completes exactly once and nothing fails.
func FuzzExchangeSplits(f *testing.F) {
	f.Add([]byte{1, 63, 64, 65, 200})
	f.Add([]byte{0, 0, 255})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, cuts []byte) {
		const pipeline = 4
		x := newTestExchange(t, Config{Pipeline: pipeline}, maxInt64)
		all := bytes.Join(issueN(t, x, 1, pipeline), nil)
		done, from := 0, 0
		for _, c := range append(bytes.Clone(cuts), 255) {
			to := min(from+int(c), len(all))
			o := feed(t, x, 2, all[from:to], false)
			if o.next != goOn {
				t.Fatalf("read [%d:%d]: outcome %+v", from, to, o)
			}
			done += o.done
			from = to
		}
		if rest := all[from:]; len(rest) > 0 {
			done += feed(t, x, 2, rest, false).done
		}
		if done != pipeline || recorded(x) != pipeline || errCount(x) != 0 {
			t.Fatalf("%d done, %d recorded, errors %v; want %d, %d, none", done, recorded(x), x.st.errs, pipeline, pipeline)
		}
	})
}
