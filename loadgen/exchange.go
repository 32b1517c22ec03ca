package loadgen

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
)

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
// An engine drives it so: more says whether the connection has requests
// left to send, connectDue when to connect; connecting, then connected or
// connectFailed, tell what came of a connect; issue hands out the next
// request to send (queue puts all that may be sent with what is owed); the
// engine reads into recvBuf and received says what came of the bytes; owed
// and wrote are what must be sent and what was; window says when to wake if
// nothing arrives, overdue whether that wake-up is a timeout; fail ends the
// exchange on the connection when the engine's own I/O fails, and abandon
// when the run stops. Every outcome is counted or recorded before it is
// returned.
//
// The run has two ends (see runner): no request due at or after runner.end
// is sent, and the requests then in flight (with, in an open loop, those due
// in the run's last tenth and held up: see issue) are given until
// runner.cutoff to be answered; what abandon finds then is
// unfinished, or unsent, with its age.
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

	connAt  int64 // when the current connection's connect began (see connecting)
	pending bool  // a connect began at connAt and has not ended
	connReq int   // requests issued on the current connection
	over    bool  // abandon has counted what was left: the exchange is done

	// In the open loop this connection sends requests first, first+stride,
	// first+2*stride… of the one schedule (see runner.dueAt); k is how
	// many of them it has had.
	open   bool
	first  int64
	stride int64
	k      int64
	dueK   int64 // the k whose due time is dueAt (-1: none yet)
	dueAt  int64
	quota  int64 // requests to issue after warmup, or -1 for no limit
	issued int64

	reconnect   bool  // Config.Reconnect: short connections, perConn requests each
	perConn     int   // Config.PerConn
	serverClose bool  // Config.Close is CloseServer
	closing     bool  // a short connection's requests are answered; the server's close is awaited
	closeAt     int64 // when closing began
	connDue     int64 // when the current connection was due: its first request's due time
	gotByte     bool  // the current connection has received its first byte
	timeout     int64 // Config.Timeout, in ns
	backoff     int64 // wait before the next connect after a failed one, in ns
}

// outcome is what the exchange made of an event on its connection, and what
// the engine has to do next.
type outcome struct {
	next  nextStep
	done  int   // requests the event completed (their latencies are recorded)
	class Class // the failure's class, if next is failed (the errors are counted)
}

// nextStep is what an engine does after the exchange has handled an event.
type nextStep uint8

const (
	// goOn: the connection stays. Send what is owed (exchange.owed), then
	// wait for the server or the next due time.
	goOn nextStep = iota
	// hangUp: the exchange on this connection is over and nothing failed:
	// the server closed it after whole replies, or a short connection's one
	// request is done. Send what is owed, best effort, close the
	// connection, connect anew.
	hangUp
	// failed: the requests in flight were counted as errors of
	// outcome.class. Close the connection, connect anew.
	failed
	// runOver: the event came at or after the end of the run and was not
	// used. Abandon the connection (see exchange.abandon).
	runOver
)

// init sets up connection id of cfg.Connections, recording into st.
func (x *exchange) init(r *runner, st *stats, id int) error {
	cfg := &r.cfg
	x.r, x.st = r, st
	x.reconnect = cfg.Reconnect
	x.perConn = cfg.PerConn
	x.serverClose = cfg.Close == CloseServer
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
	x.quota = -1
	x.dueK = -1
	if !cfg.Rate.IsZero() {
		// The one schedule's requests go to the shards in turn, and a
		// shard's in turn to its connections: request j to shard j mod N,
		// and there to connection (j div N) mod Connections.
		n := int64(max(cfg.Shards, 1))
		x.open = true
		x.first = int64(cfg.Shard) + int64(id)*n
		x.stride = int64(cfg.Connections) * n
		if cfg.Requests > 0 {
			// The run's -n requests are the one schedule's first ones due
			// in the measured part: this connection's quota is how many
			// of them are its own.
			lo := r.firstMeasured()
			x.quota = x.ownBefore(lo+cfg.Requests) - x.ownBefore(lo)
		}
	} else if cfg.Requests > 0 {
		// The closed loop's are dealt to the shards in turn, and a
		// shard's to its connections.
		x.quota = shareOf(shareOf(cfg.Requests, cfg.Shard, cfg.Shards), id, cfg.Connections)
	}
	return nil
}

// inFlightBytes returns the bytes of the requests in flight.
func (x *exchange) inFlightBytes() int {
	n := 0
	for i := range x.n {
		n += len(x.reqs[x.slot(i)])
	}
	return n
}

// idle reports whether the exchange awaits nothing from the server: no
// request is in flight and no greeting is due.
func (x *exchange) idle() bool { return x.n == 0 && x.greet == nil }

// connectFailed counts a connect that failed at t with err, if t falls in
// the measured part, spends the request it would have carried (see skipDue),
// and returns when to try again: after a back-off that doubles from 1 ms to
// at most 100 ms while connects keep failing.
func (x *exchange) connectFailed(t int64, err error) int64 {
	x.pending = false
	if t >= x.r.measure {
		x.st.count(classify(err, true), 1, err)
	}
	x.skipDue(t)
	x.backoff = min(max(2*x.backoff, int64(time.Millisecond)), int64(100*time.Millisecond))
	return t + x.backoff
}

// connecting notes that a connect began at t: if the run stops before it
// ends, abandon counts it, with its age. The connection is due at t, or
// with short connections in an open loop when the schedule says.
func (x *exchange) connecting(t int64) {
	x.connAt = t
	x.connDue = t
	if x.open && x.reconnect {
		x.connDue = x.nextDue()
	}
	x.pending = true
	x.connReq = 0
}

// connected starts the exchange on a connection whose connect, begun at
// connAt, completed at t: the connect time is recorded if the connect began
// in the measured part, and the protocol's greeting, if it has one, is
// awaited before any reply.
func (x *exchange) connected(t int64) {
	x.reset()
	x.backoff = 0
	x.pending = false
	if x.connAt >= x.r.measure {
		x.st.connected(t, t-x.connAt)
		x.st.opened++
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
	x.closing, x.gotByte = false, false
}

// connOver reports whether a short connection has had every request it
// may carry: its PerConn, or its quota's last.
func (x *exchange) connOver() bool {
	return x.connReq >= x.perConn || !x.canIssue()
}

// finishConn ends, at t, a short connection whose requests are all
// answered: with CloseClient the engine closes it (hangUp); with
// CloseServer the exchange owes the server the protocol's farewell, if it
// has one, and awaits the server's close (see Config.Close), for the
// request timeout at most.
func (x *exchange) finishConn(t int64) nextStep {
	if !x.serverClose {
		return hangUp
	}
	x.closing, x.closeAt = true, t
	if f, ok := x.clients[0].(protocol.Farewell); ok {
		x.out = f.Farewell(x.out)
	}
	return goOn
}

// awaits reports whether the exchange awaits something from the server: a
// reply, the greeting, or with CloseServer the server's close.
func (x *exchange) awaits() bool { return !x.idle() || x.closing }

// fail counts every request in flight as an error of err's class if t
// falls in the measured part (at least one error: a failure with nothing in
// flight, such as unsolicited bytes, is still a failure) and ends the
// exchange on the connection, which the engine then closes. A timeout is a
// latency too: each request it fails is recorded in the corrected histogram
// at the time it waited, from when it was due (a greeting that never came,
// from the connect), so that a server that answers nobody cannot show a low
// percentile.
func (x *exchange) fail(t int64, err error) outcome {
	c := classify(err, false)
	if x.closing && c == Timeout {
		// Every request was answered; the server kept the connection.
		c = NoClose
		err = fmt.Errorf("%w: the server did not close within %v of the last reply", err, time.Duration(x.timeout))
	}
	if inWindow(t, x.r.measure) {
		x.st.count(c, max(x.n, 1), err)
		if c == Timeout {
			for i := range x.n {
				x.st.bound(t, t-x.ring[x.slot(i)].due)
			}
			if x.n == 0 {
				x.st.bound(t, t-x.connAt)
			}
		}
	}
	x.reset()
	return outcome{next: failed, class: c}
}

// abandon ends the exchange when the run stops at t (after its cut-off, or
// cancelled). What was left is counted, with its age at t, if t falls in the
// measured part (see inWindow): the requests in flight as unfinished; in an
// open loop, every request due in the measured part and never sent (its
// connection busy, stalled or never served) as unsent; in a closed loop, the
// request that a connect still in progress would have carried as unsent. A
// connect still in progress is counted too, its age recorded as a connect
// time. Each age goes into the corrected histogram as a lower bound of the
// request's latency. abandon counts once: later calls do nothing.
func (x *exchange) abandon(t int64) {
	if x.over {
		return
	}
	x.over = true
	if inWindow(t, x.r.measure) {
		for i := range x.n {
			x.st.lost(t, t-x.ring[x.slot(i)].due, true)
		}
		if x.pending {
			x.st.connecting++
			x.st.connected(t, t-x.connAt)
			if !x.open && x.canIssue() {
				x.st.lost(t, t-x.connAt, false)
			}
		}
		if x.open {
			x.countUnsent(t)
		}
	}
	x.pending = false
	x.reset()
}

// window returns when the engine must next wake for this connection, as a
// range [lo, hi]: the head request's timeout, counted from when it was sent
// (or, before the greeting, the greeting's, counted from the connect), with
// a quarter of the timeout as slack; or, if it comes first, the open loop's
// next due time (or the end of the run, if that is earlier), exactly, if a
// request may still be sent (see more). A
// wake-up already set anywhere in [lo, hi] may
// stay: a timeout need not be exact, and moving a timer on every request
// costs more than the check. lo is maxInt64 if nothing is awaited.
//
// A wake-up that comes earlier than the timeout (an open-loop due time, or a
// slack deadline left from an earlier request) is not a failure: see
// overdue.
func (x *exchange) window(now int64) (lo, hi int64) {
	to := x.timeout
	lo, hi = maxInt64, maxInt64
	switch {
	case x.n > 0:
		lo = x.ring[x.head].sent + to
		hi = lo + to/4
	case x.greet != nil:
		lo = x.connAt + to
		hi = lo + to/4
	case x.closing:
		lo = x.closeAt + to
		hi = lo + to/4
	}
	if x.open && x.n < len(x.ring) && !x.reconnect && x.more(now) {
		if due := min(x.nextDue(), x.r.end); due < lo {
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
	case x.closing:
		return t-x.closeAt >= x.timeout
	}
	return false
}
