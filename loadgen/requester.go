package loadgen

import (
	"fmt"

	"github.com/socklab/socklab/protocol"
)

// slot is one request in flight.
type slot struct {
	m    protocol.Matcher
	rep  protocol.Replier // m as a Replier, or nil
	due  int64            // when it was due (ns since base); equal to sent in a closed loop
	sent int64            // when it was sent, or when its connect began with Reconnect
}

// requester is what both engines keep about one connection's requests: its
// share of the schedule (the open loop's due times, the -n quota) and the
// requests in flight, oldest first. The goroutine engine's worker and the
// epoll engine's econn embed it, so that when a request is due, whether one
// may still be issued, and how it is queued and completed are decided in one
// place; the engines differ only in how they move bytes.
type requester struct {
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
}

// init sets up connection id of cfg.Connections.
func (q *requester) init(r *runner, id int) error {
	cfg := &r.cfg
	for range cfg.Pipeline {
		cl, err := r.proto.NewClient(cfg.Client)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		q.clients = append(q.clients, cl)
	}
	q.ring = make([]slot, cfg.Pipeline)
	q.reqs = make([][]byte, cfg.Pipeline)
	if cfg.Rate > 0 {
		q.open = true
		q.ivalNs = float64(cfg.Connections) / cfg.Rate * 1e9
		q.offNs = q.ivalNs * float64(id) / float64(cfg.Connections)
	}
	q.quota = -1
	if cfg.Requests > 0 {
		n := int64(cfg.Connections)
		q.quota = cfg.Requests / n
		if int64(id) < cfg.Requests%n {
			q.quota++
		}
	}
	return nil
}

func (q *requester) nextDue() int64 { return int64(q.offNs + float64(q.k)*q.ivalNs) }

func (q *requester) canIssue() bool { return q.quota < 0 || q.issued < q.quota }

// issue queues the next request if one may be sent at now: the pipeline has
// room, the quota is not spent, the run has not ended, in an open loop it is
// due, and with short connections this connection has not had its one
// request. It returns the request's bytes (empty for a protocol whose
// exchange is one server stream), or false if none may be sent. A request
// due in the measured part counts toward the quota, and in st as late if it
// is sent late.
func (q *requester) issue(now int64, r *runner, st *stats) ([]byte, bool) {
	reconnect := r.cfg.Reconnect
	if q.n == len(q.ring) || !q.canIssue() || reconnect && q.connReq > 0 {
		return nil, false
	}
	due := now
	if q.open {
		if due = q.nextDue(); due > now {
			return nil, false
		}
	}
	if due >= r.end {
		return nil, false
	}
	sent := now
	if reconnect {
		sent = q.connAt
	}
	pos := q.head + q.n
	if pos >= len(q.ring) {
		pos -= len(q.ring)
	}
	buf, m := q.clients[pos].Next(q.reqs[pos][:0], q.seq)
	q.reqs[pos] = buf
	rep, _ := m.(protocol.Replier)
	q.ring[pos] = slot{m: m, rep: rep, due: due, sent: sent}
	q.seq++
	q.k++
	q.connReq++
	q.n++
	if due >= r.measure {
		q.issued++
		if q.open {
			st.countLate(now, due)
		}
	}
	return buf, true
}

// skipDue drops the request that a connect failed at t would have carried:
// it is counted as issued (the failure was counted as its error), not sent
// later. In the open loop that is the request due by t; in the closed loop
// the next one, so that a run bounded by a request count ends against a
// server that refuses every connection instead of retrying forever.
func (q *requester) skipDue(t, measure int64) {
	if !q.open {
		if t >= measure {
			q.issued++
		}
		return
	}
	if due := q.nextDue(); due <= t {
		q.k++
		if due >= measure {
			q.issued++
		}
	}
}

// complete pops the oldest request, answered at t, recording its latency in
// st if t falls in the measured part.
func (q *requester) complete(t int64, st *stats) {
	s := &q.ring[q.head]
	if inWindow(t, st.r.measure) {
		st.record(t, t-s.due, t-s.sent, false)
	}
	*s = slot{}
	q.head++
	if q.head == len(q.ring) {
		q.head = 0
	}
	q.n--
}
