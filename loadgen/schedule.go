package loadgen

import (
	"github.com/socklab/socklab/protocol"
)

// The exchange's schedule: when a connection's requests are due (the open
// loop's fixed schedule, computed from the start of the run, never from the
// previous completion), how many it may still issue (its share of the -n
// quota), and the ring of requests in flight, oldest first.

// slot is one request in flight.
type slot struct {
	m    protocol.Matcher
	rep  protocol.Replier // m as a Replier, or nil
	due  int64            // when it was due (ns since base); equal to sent in a closed loop
	sent int64            // when it was sent
}

// nextDue is when the open loop's next request is due (ns since base),
// computed once per request.
func (x *exchange) nextDue() int64 {
	if x.dueK != x.k {
		x.dueK, x.dueAt = x.k, x.r.dueAt(x.first+x.k*x.stride)
	}
	return x.dueAt
}

// ownBefore returns how many of the one schedule's requests before the j-th
// are this connection's.
func (x *exchange) ownBefore(j int64) int64 {
	if j <= x.first {
		return 0
	}
	return (j - x.first + x.stride - 1) / x.stride
}

// dueAt is when request j (from 0) of the open loop's one schedule is due,
// in ns since base (math.MaxInt64 for never): where the integral of the
// whole load's rate shape, its first rate through the warm-up, reaches j
// (see Shape). Every connection of every shard computes its due times with
// it, from the same j, so N shards' schedules together are exactly one
// process's, to the nanosecond.
func (r *runner) dueAt(j int64) int64 { return r.sched.dueNs(j) }

// firstMeasured returns the index of the one schedule's first request due
// in the measured part.
func (r *runner) firstMeasured() int64 { return r.sched.firstAt(r.measure) }

// canIssue reports whether the quota leaves a request to issue.
func (x *exchange) canIssue() bool { return x.quota < 0 || x.issued < x.quota }

// more reports whether the connection may still send a request, at now or
// later: its quota is not spent, and the run has not reached its end or, in
// an open loop, a request due before the end is still to be sent (see
// issue). Once it may not, an engine ends the connection as soon as nothing
// is in flight on it. An open-loop connection whose last request before the
// end is sent stays open until the end all the same, as a client of the
// server would: closing it early would hand a server of limited capacity
// its queued connections before the run is over.
func (x *exchange) more(now int64) bool {
	if !x.canIssue() {
		return false
	}
	return now < x.r.end || x.open && x.nextDue() < x.r.end
}

// slot returns the ring index of the i-th request in flight, oldest first.
func (x *exchange) slot(i int) int {
	if i += x.head; i >= len(x.ring) {
		i -= len(x.ring)
	}
	return i
}

// issue queues the next request if one may be sent at now: the pipeline has
// room, the quota is not spent, in an open loop it is due, with short
// connections this connection has not had its PerConn requests nor begun
// to close, and it was due before the end of the run. It returns the
// request's bytes (empty for a protocol whose exchange is one server
// stream), or false if none may be sent. A request due in the measured part
// counts toward the quota, and as late if it is sent late.
//
// A request is due when the open loop's schedule says, and in a closed loop
// when it is sent. A short connection's first request is due when the
// connection was (the schedule's due time, or in a closed loop when its
// connect began), so its corrected latency holds the wait for a slot and
// the connect; its next requests are due when they can be sent, and are
// sent even after the end of the run (until the cut-off): the connection,
// due before the end, is the schedule's unit. So after the end of the run
// a closed loop sends nothing new, except on a short connection whose
// connect began before it; an open loop
// still sends, until the cut-off, the requests due in the run's last tenth
// (at most the grace) that were held up (a connection busy at the very end
// is not a failing server), and gives up the older ones (see expire).
func (x *exchange) issue(now int64) ([]byte, bool) {
	r := x.r
	if x.n == len(x.ring) || !x.canIssue() || x.reconnect && (x.connReq >= x.perConn || x.closing) {
		return nil, false
	}
	sent, due := now, now
	// A short connection's first request is its schedule entry, due when
	// the connection was; the next ones are due when they can be sent.
	sched := !x.reconnect || x.connReq == 0
	if x.reconnect && x.connReq == 0 {
		due = x.connDue
	}
	if x.open && sched {
		if now >= r.end {
			x.expire(now)
			if !x.canIssue() {
				return nil, false
			}
		}
		if due = x.nextDue(); due > now {
			return nil, false
		}
	}
	if due >= r.end && sched {
		return nil, false
	}
	pos := x.slot(x.n)
	buf, m := x.clients[pos].Next(x.reqs[pos][:0], x.seq)
	x.reqs[pos] = buf
	rep, _ := m.(protocol.Replier)
	x.ring[pos] = slot{m: m, rep: rep, due: due, sent: sent}
	if r.cfg.onIssue != nil {
		r.cfg.onIssue(due)
	}
	x.seq++
	if sched {
		x.k++
	}
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

// expire gives up, at now (after the end of the run), the open-loop
// requests never sent that were due before the run's last tenth (see
// runner.held): each is counted unsent, with its age, and spends its place
// in the quota.
func (x *exchange) expire(now int64) {
	r := x.r
	for x.canIssue() {
		due := x.nextDue()
		if due >= r.held {
			return
		}
		if due >= r.measure {
			x.st.lost(now, now-due, false)
			x.issued++
		}
		x.k++
	}
}

// countUnsent counts, at t, every open-loop request due in the measured part
// before t (and before the end) that was never sent, within what the quota
// leaves, and records its age (see abandon).
func (x *exchange) countUnsent(t int64) {
	until := min(t, x.r.end)
	left := int64(-1)
	if x.quota >= 0 {
		left = x.quota - x.issued
	}
	for k := x.k; left != 0; k++ {
		due := x.r.dueAt(x.first + k*x.stride)
		if due >= until {
			return
		}
		if due < x.r.measure {
			continue
		}
		x.st.lost(t, t-due, false)
		left--
	}
}

// complete pops the oldest request, answered at t, recording its latency if
// t falls in the measured part.
func (x *exchange) complete(t int64) {
	s := &x.ring[x.head]
	if inWindow(t, x.r.measure) {
		x.st.done(t, t-s.due, t-s.sent)
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
