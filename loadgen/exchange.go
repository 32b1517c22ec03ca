package loadgen

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
)

// slot is one request in flight.
type slot struct {
	m    protocol.Matcher
	rep  protocol.Replier // m as a Replier, or nil
	due  int64            // when it was due (ns since base); equal to sent in a closed loop
	sent int64            // when it was sent, or when its connect began with Reconnect
}

// exchange is the client side of one connection's exchange with the server:
// its share of the schedule (the open loop's due times, the -n quota), the
// requests in flight, oldest first, and the matching of what the server
// sends against them. The goroutine engine's worker and the epoll engine's
// econn each own one and feed it what happens on the connection (a connect,
// bytes read, EOF, a failed read or write); it answers with an outcome, the
// bytes owed to the server and, for every request it completes or fails,
// what is recorded in the engine's stats. When a request is due, whether one
// may still be issued, what a reply must be and what a failure counts as are
// thus decided in one place; the engines only read, write and wait.
//
// An exchange touches no socket and reads no clock: every event comes with
// its time, so it can be driven, and tested, without a connection.
type exchange struct {
	r  *runner
	st *stats // the engine's counters and histograms, where completions are recorded

	dgram  bool             // a datagram network: each read is one whole reply
	greet  protocol.Matcher // the greeting still awaited, matched before any reply
	greetR protocol.Replier // greet as a Replier, or nil
	rbuf   []byte           // bytes received: rbuf[:rlen] is what no matcher consumed yet
	rlen   int
	out    []byte // bytes owed to the server, in order: queued requests and replies
	outOff int    // how much of out is sent

	clients []protocol.Client // one per pipeline slot, so a matcher is never reused while in flight
	reqs    [][]byte          // request bytes per slot: matchers may refer to them
	ring    []slot
	head, n int
	seq     uint64

	connAt  int64 // when the current connection's connect began
	connReq int   // requests issued on the current connection

	open   bool
	ivalNs float64 // open loop: ns between this connection's requests
	offNs  float64
	k      int64 // open loop: index of the next request in the schedule
	quota  int64 // requests to issue after warmup, or -1 for no limit
	issued int64

	reconnect bool  // Config.Reconnect: one request per connection
	timeout   int64 // Config.Timeout, in ns
	backoff   int64 // wait before the next connect after a failed one, in ns
}

// init sets up connection id of cfg.Connections, recording into st.
func (x *exchange) init(r *runner, st *stats, id int) error {
	cfg := &r.cfg
	x.r, x.st = r, st
	x.reconnect = cfg.Reconnect
	x.timeout = int64(cfg.Timeout)
	x.dgram = protocol.IsDatagram(cfg.Network)
	size := 64 << 10
	if x.dgram {
		size = 64<<10 + 1 // one more than the largest datagram, to see truncation
	}
	x.rbuf = make([]byte, size)
	for range cfg.Pipeline {
		cl, err := r.proto.NewClient(cfg.Client)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		x.clients = append(x.clients, cl)
	}
	x.ring = make([]slot, cfg.Pipeline)
	x.reqs = make([][]byte, cfg.Pipeline)
	if cfg.Rate > 0 {
		x.open = true
		x.ivalNs = float64(cfg.Connections) / cfg.Rate * 1e9
		x.offNs = x.ivalNs * float64(id) / float64(cfg.Connections)
	}
	x.quota = -1
	if cfg.Requests > 0 {
		n := int64(cfg.Connections)
		x.quota = cfg.Requests / n
		if int64(id) < cfg.Requests%n {
			x.quota++
		}
	}
	return nil
}

func (x *exchange) nextDue() int64 { return int64(x.offNs + float64(x.k)*x.ivalNs) }

func (x *exchange) canIssue() bool { return x.quota < 0 || x.issued < x.quota }

// issue queues the next request if one may be sent at now: the pipeline has
// room, the quota is not spent, the run has not ended, in an open loop it is
// due, and with short connections this connection has not had its one
// request. It returns the request's bytes (empty for a protocol whose
// exchange is one server stream), or false if none may be sent. A request
// due in the measured part counts toward the quota, and as late if it is
// sent late.
func (x *exchange) issue(now int64) ([]byte, bool) {
	r := x.r
	if x.n == len(x.ring) || !x.canIssue() || x.reconnect && x.connReq > 0 {
		return nil, false
	}
	due := now
	if x.open {
		if due = x.nextDue(); due > now {
			return nil, false
		}
	}
	if due >= r.end {
		return nil, false
	}
	sent := now
	if x.reconnect {
		sent = x.connAt
	}
	pos := x.head + x.n
	if pos >= len(x.ring) {
		pos -= len(x.ring)
	}
	buf, m := x.clients[pos].Next(x.reqs[pos][:0], x.seq)
	x.reqs[pos] = buf
	rep, _ := m.(protocol.Replier)
	x.ring[pos] = slot{m: m, rep: rep, due: due, sent: sent}
	x.seq++
	x.k++
	x.connReq++
	x.n++
	if due >= r.measure {
		x.issued++
		if x.open {
			x.st.countLate(now, due)
		}
	}
	return buf, true
}

// skipDue drops the request that a connect failed at t would have carried:
// it is counted as issued (the failure was counted as its error), not sent
// later. In the open loop that is the request due by t; in the closed loop
// the next one, so that a run bounded by a request count ends against a
// server that refuses every connection instead of retrying forever.
func (x *exchange) skipDue(t int64) {
	measure := x.r.measure
	if !x.open {
		if t >= measure {
			x.issued++
		}
		return
	}
	if due := x.nextDue(); due <= t {
		x.k++
		if due >= measure {
			x.issued++
		}
	}
}

// complete pops the oldest request, answered at t, recording its latency if
// t falls in the measured part.
func (x *exchange) complete(t int64) {
	s := &x.ring[x.head]
	if inWindow(t, x.r.measure) {
		x.st.record(t, t-s.due, t-s.sent, false)
	}
	*s = slot{}
	x.head++
	if x.head == len(x.ring) {
		x.head = 0
	}
	x.n--
}

// queue appends every request that may be sent at now (see issue) to the
// bytes owed to the server.
func (x *exchange) queue(now int64) {
	for {
		buf, ok := x.issue(now)
		if !ok {
			return
		}
		x.out = append(x.out, buf...)
	}
}

// idle reports whether the exchange awaits nothing from the server: no
// request is in flight and no greeting is due.
func (x *exchange) idle() bool { return x.n == 0 && x.greet == nil }

// connectDue returns when the next connect may begin: with short
// connections in an open loop, when the request it is for is due; otherwise
// at once (0).
func (x *exchange) connectDue() int64 {
	if x.open && x.reconnect {
		return x.nextDue()
	}
	return 0
}

// connectFailed counts a connect that failed at t with err, if t falls in
// the measured part, spends the request it would have carried (see skipDue),
// and returns when to try again: after a back-off that doubles from 1 ms to
// at most 100 ms while connects keep failing.
func (x *exchange) connectFailed(t int64, err error) int64 {
	if t >= x.r.measure {
		x.st.count(classify(err, true), 1, err)
	}
	x.skipDue(t)
	x.backoff = min(max(2*x.backoff, int64(time.Millisecond)), int64(100*time.Millisecond))
	return t + x.backoff
}

// connected starts the exchange on a connection whose connect, begun at
// connAt, completed at t: the connect time is recorded if the connect began
// in the measured part, and the protocol's greeting, if it has one, is
// awaited before any reply.
func (x *exchange) connected(t int64) {
	x.reset()
	x.backoff = 0
	if x.connAt >= x.r.measure {
		x.st.record(t, -1, t-x.connAt, true)
	}
	x.connReq = 0
	if !x.dgram {
		x.greet = x.clients[0].Greeting()
		x.greetR, _ = x.greet.(protocol.Replier)
	}
}

// reset forgets the exchange on a connection the engine closes: the
// requests in flight (count them first, with fail or abandon), the greeting,
// the bytes received and not consumed, the bytes owed.
func (x *exchange) reset() {
	clear(x.ring)
	x.head, x.n = 0, 0
	x.greet, x.greetR = nil, nil
	x.rlen = 0
	x.out, x.outOff = x.out[:0], 0
}

// fail counts every request in flight as an error of err's class if t
// falls in the measured part (at least one error: a failure with nothing in
// flight, such as unsolicited bytes, is still a failure) and ends the
// exchange on the connection, which the engine then closes.
func (x *exchange) fail(t int64, err error) outcome {
	c := classify(err, false)
	if inWindow(t, x.r.measure) {
		x.st.count(c, max(x.n, 1), err)
	}
	x.reset()
	return outcome{next: failed, class: c}
}

// abandon ends the exchange at the end of the run, or at its cancellation:
// the requests in flight are neither latencies nor errors, and are reported
// as unfinished if t falls in the measured part, whenever they were sent
// (see inWindow).
func (x *exchange) abandon(t int64) {
	if inWindow(t, x.r.measure) {
		x.st.unfinished += int64(x.n)
	}
	x.reset()
}

// window returns when the engine must next wake for this connection, as a
// range [lo, hi]: the head request's timeout, counted from when it was sent
// (or, before the greeting, the greeting's, counted from the connect), with
// a quarter of the timeout as slack; or, if it comes first, the open loop's
// next due time, exactly. A wake-up already set anywhere in [lo, hi] may
// stay: a timeout need not be exact, and moving a timer on every request
// costs more than the check. lo is maxInt64 if nothing is awaited.
//
// A wake-up that comes earlier than the timeout (an open-loop due time, or a
// slack deadline left from an earlier request) is not a failure: see
// overdue.
func (x *exchange) window() (lo, hi int64) {
	to := x.timeout
	lo, hi = maxInt64, maxInt64
	switch {
	case x.n > 0:
		lo = x.ring[x.head].sent + to
		hi = lo + to/4
	case x.greet != nil:
		lo = x.connAt + to
		hi = lo + to/4
	}
	if x.open && x.n < len(x.ring) && !x.reconnect && x.canIssue() {
		if due := x.nextDue(); due < lo {
			lo, hi = due, due
		}
	}
	return lo, hi
}

// overdue reports whether, at t, the head request has waited its whole
// timeout for its reply, or, before it, the greeting since the connect: if
// so, the engine fails the exchange with a timeout error.
func (x *exchange) overdue(t int64) bool {
	switch {
	case x.n > 0:
		return t-x.ring[x.head].sent >= x.timeout
	case x.greet != nil:
		return t-x.connAt >= x.timeout
	}
	return false
}
