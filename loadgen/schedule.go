package loadgen

import "github.com/socklab/socklab/protocol"

// The exchange's schedule: when a connection's requests are due (the open
// loop's fixed schedule, computed from the start of the run, never from the
// previous completion), how many it may still issue (its share of the -n
// quota), and the ring of requests in flight, oldest first.

// slot is one request in flight.
type slot struct {
	m    protocol.Matcher
	rep  protocol.Replier // m as a Replier, or nil
	due  int64            // when it was due (ns since base); equal to sent in a closed loop
	sent int64            // when it was sent, or when its connect began with Reconnect
}

// nextDue is when the open loop's next request is due (ns since base).
func (x *exchange) nextDue() int64 { return int64(x.offNs + float64(x.k)*x.ivalNs) }

// canIssue reports whether the quota leaves a request to issue.
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

// connectDue returns when the next connect may begin: with short
// connections in an open loop, when the request it is for is due; otherwise
// at once (0).
func (x *exchange) connectDue() int64 {
	if x.open && x.reconnect {
		return x.nextDue()
	}
	return 0
}
