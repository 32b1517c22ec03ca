package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/socklab/socklab/protocol"
)

const maxInt64 = 1<<63 - 1

// lateThreshold is how late a request may be sent before it counts as
// late: the open loop's timer and scheduler jitter stays well below it.
const lateThreshold = int64(time.Millisecond)

// worker drives one connection. Everything it records it records in its own
// fields: histograms, counters and buffers are touched by its goroutine
// alone, so the hot path takes no lock and, once the buffers have grown to
// their working size, allocates nothing.
// Its counters and histograms, with their interval handoff, are in stats.
type worker struct {
	stats
	x     exchange // the client side of the exchange on the connection
	r     *runner
	cfg   *Config
	id    int
	dgram bool

	conn    net.Conn
	shared  atomic.Pointer[net.Conn] // conn, for interrupt from the cancelling goroutine
	connSeq int
	greet   protocol.Matcher // pending greeting, matched before any reply
	rdl     int64            // current read deadline (ns since base), 0 none
	wdl     int64            // current write deadline
	backoff time.Duration

	rbuf  []byte
	rlen  int
	rep   []byte // bytes a protocol.Replier hands out
	timer *time.Timer
}

func newWorker(r *runner, id int) (*worker, error) {
	cfg := &r.cfg
	w := &worker{r: r, cfg: cfg, id: id, dgram: protocol.IsDatagram(cfg.Network)}
	if err := w.x.init(r, &w.stats, id); err != nil {
		return nil, err
	}
	size := 64 << 10
	if w.dgram {
		size = 64<<10 + 1 // one more than the largest datagram, to see truncation
	}
	w.rbuf = make([]byte, size)
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	w.stats.init(r)
	return w, nil
}

func (w *worker) now() int64 { return int64(time.Since(w.r.base)) }

func (w *worker) stopped() bool {
	select {
	case <-w.r.stop:
		return true
	default:
		return false
	}
}

// interrupt unblocks the worker's I/O; it is called from another goroutine.
func (w *worker) interrupt() {
	if c := w.shared.Load(); c != nil {
		(*c).SetDeadline(time.Unix(1, 0))
	}
}

func (w *worker) run() {
	defer w.finish()
	for {
		if w.stopped() {
			return
		}
		now := w.now()
		if now >= w.r.end {
			return
		}
		if w.conn == nil {
			if !w.x.canIssue() {
				return
			}
			if w.x.open && w.cfg.Reconnect {
				if due := w.x.nextDue(); due > now {
					if !w.sleepUntil(due) {
						return
					}
					continue
				}
			}
			if !w.connect(now) {
				continue
			}
			now = w.now()
		}
		if !w.fill(now) {
			continue
		}
		if w.x.n == 0 && w.greet == nil {
			if !w.x.canIssue() {
				return
			}
			if w.x.open && w.cfg.NoReply {
				// Wait for the next due time in a read, so that a
				// reply the server should not send is seen.
				w.read()
				continue
			}
			if w.x.open {
				if !w.sleepUntil(w.x.nextDue()) {
					return
				}
			}
			continue
		}
		w.read()
	}
}

// sleepUntil waits until t (ns since base) or the end of the run; it
// returns false if the run was cancelled.
func (w *worker) sleepUntil(t int64) bool {
	t = min(t, w.r.end)
	d := time.Duration(t - w.now())
	if d <= 0 {
		return true
	}
	w.timer.Reset(d)
	select {
	case <-w.timer.C:
		return true
	case <-w.r.stop:
		w.timer.Stop()
		return false
	}
}

func (w *worker) connect(now int64) bool {
	start := now
	var c net.Conn
	var err error
	d := net.Dialer{Timeout: w.cfg.ConnectTimeout}
	if w.cfg.Network == "unixgram" {
		// A unixgram client must be bound to a path, or the server has
		// nowhere to send its reply.
		w.connSeq++
		laddr := &net.UnixAddr{Net: "unixgram", Name: filepath.Join(w.r.tmpdir, fmt.Sprintf("c%d-%d", w.id, w.connSeq))}
		os.Remove(laddr.Name)
		c, err = net.DialUnix("unixgram", laddr, &net.UnixAddr{Net: "unixgram", Name: w.cfg.Addr})
	} else {
		c, err = d.Dial(w.cfg.Network, w.cfg.Addr)
	}
	t := w.now()
	if err != nil {
		if t >= w.r.measure {
			w.count(classify(err, true), 1, err)
		}
		w.x.skipDue(t)
		w.backoff = min(max(2*w.backoff, time.Millisecond), 100*time.Millisecond)
		w.sleepUntil(t + int64(w.backoff))
		return false
	}
	w.backoff = 0
	if start >= w.r.measure {
		w.record(t, -1, t-start, true)
	}
	w.conn = c
	w.shared.Store(&c)
	if w.stopped() {
		c.SetDeadline(time.Unix(1, 0))
	}
	w.x.connAt = start
	w.x.connReq = 0
	w.rdl, w.wdl = 0, 0
	w.rlen, w.x.head, w.x.n = 0, 0, 0
	w.greet = nil
	if !w.dgram {
		w.greet = w.x.clients[0].Greeting()
	}
	return true
}

// closeConn closes the connection without counting anything.
func (w *worker) closeConn() {
	if w.conn == nil {
		return
	}
	w.shared.Store(nil)
	w.conn.Close()
	if w.cfg.Network == "unixgram" {
		if a, ok := w.conn.LocalAddr().(*net.UnixAddr); ok && a != nil {
			os.Remove(a.Name)
		}
	}
	w.conn = nil
	w.greet = nil
	w.x.n, w.x.head, w.rlen = 0, 0, 0
}

// fill sends requests while the pipeline has room and (in an open loop)
// requests are due. It returns false if the connection failed.
func (w *worker) fill(now int64) bool {
	for {
		buf, ok := w.x.issue(now)
		if !ok {
			break
		}
		if len(buf) == 0 {
			continue
		}
		w.writeDeadline(now)
		nw, err := w.conn.Write(buf)
		w.bytesOut += int64(nw)
		if err != nil {
			w.ioError(err, w.now())
			return false
		}
		if w.cfg.NoReply {
			// Nothing will answer: the request is done once sent.
			now = w.now()
			w.x.complete(now)
		}
	}
	return true
}

// setDeadline moves a deadline only when it falls outside [lo, hi]: a
// request timeout need not be exact, and re-arming the runtime's timer on
// every request costs more than the check. A deadline that fires before the
// request is really overdue is recognised in read and ignored.
func (w *worker) setDeadline(cur *int64, lo, hi int64, set func(time.Time) error) {
	if hi >= w.r.end {
		hi = w.r.end
		lo = min(lo, hi)
	}
	if *cur != 0 && *cur >= lo && *cur <= hi {
		return
	}
	*cur = hi
	if hi >= maxInt64/2 {
		set(time.Time{})
		return
	}
	set(w.r.base.Add(time.Duration(hi)))
}

func (w *worker) writeDeadline(now int64) {
	to := int64(w.cfg.Timeout)
	w.setDeadline(&w.wdl, now+to, now+to+to/4, w.conn.SetWriteDeadline)
}

func (w *worker) readDeadline() {
	to := int64(w.cfg.Timeout)
	lo, hi := int64(maxInt64), int64(maxInt64)
	switch {
	case w.x.n > 0:
		lo = w.x.ring[w.x.head].sent + to
		hi = lo + to/4
	case w.greet != nil:
		lo = w.x.connAt + to
		hi = lo + to/4
	}
	if w.x.open && w.x.n < len(w.x.ring) && !w.cfg.Reconnect && w.x.canIssue() {
		if due := w.x.nextDue(); due < lo {
			lo, hi = due, due
		}
	}
	w.setDeadline(&w.rdl, lo, hi, w.conn.SetReadDeadline)
}

// ioError handles a failed read or write at time t.
func (w *worker) ioError(err error, t int64) {
	if (errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err)) && (t >= w.r.end || w.stopped()) {
		w.abandon()
		return
	}
	w.fail(classify(err, false), err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// abandon drops the requests in flight at the end of the run: they are
// neither latencies nor errors, and are reported as unfinished, whenever
// they were sent (see inWindow).
func (w *worker) abandon() {
	if inWindow(w.now(), w.r.measure) {
		w.unfinished += int64(w.x.n)
	}
	w.closeConn()
}

// fail counts every request in flight as an error of class c if the failure
// falls in the measured part (at least one error: a failure with nothing in
// flight, such as unsolicited bytes, is still a failure), then closes the
// connection.
func (w *worker) fail(c Class, err error) {
	if inWindow(w.now(), w.r.measure) {
		w.count(c, max(w.x.n, 1), err)
	}
	w.closeConn()
}

// read reads once and matches what arrived against the requests in flight.
func (w *worker) read() {
	w.readDeadline()
	nr, err := w.conn.Read(w.rbuf[w.rlen:])
	t := w.now()
	w.bytesIn += int64(nr)
	if t >= w.r.end {
		// The run is over: what is still in flight is unfinished, whatever
		// arrives now (as in the epoll engine's read).
		w.abandon()
		return
	}
	eof := false
	if err != nil {
		switch {
		case err == io.EOF && !w.dgram:
			eof = true
		case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
			if t >= w.r.end || w.stopped() {
				w.abandon()
				return
			}
			to := int64(w.cfg.Timeout)
			if w.x.n > 0 && t-w.x.ring[w.x.head].sent >= to || w.x.n == 0 && w.greet != nil && t-w.x.connAt >= to {
				w.fail(Timeout, err)
			}
			// Otherwise the deadline was the open loop's next due time,
			// or an early one left by setDeadline's slack.
			return
		default:
			w.fail(classify(err, false), err)
			return
		}
	}
	if w.dgram {
		w.matchDatagram(w.rbuf[:nr], t)
		return
	}
	w.rlen += nr
	w.matchStream(t, eof)
}

func (w *worker) matchDatagram(p []byte, t int64) {
	if w.x.n == 0 {
		w.fail(WrongReply, fmt.Errorf("%w: unsolicited datagram of %d bytes", protocol.ErrWrongReply, len(p)))
		return
	}
	s := &w.x.ring[w.x.head]
	k, done, err := s.m.Match(p, false)
	switch {
	case err != nil:
		w.fail(classify(err, false), err)
	case !done:
		w.fail(ShortReply, fmt.Errorf("%w: datagram of %d bytes is not a whole reply", protocol.ErrShortReply, len(p)))
	case k < len(p):
		w.fail(WrongReply, fmt.Errorf("%w: %d bytes after the reply in its datagram", protocol.ErrWrongReply, len(p)-k))
	default:
		w.x.complete(t)
	}
}

func (w *worker) matchStream(t int64, eof bool) {
	p := w.rbuf[:w.rlen]
	if w.greet != nil {
		k, done, err := w.greet.Match(p, eof)
		p = p[k:]
		switch {
		case err != nil:
			w.fail(classify(err, false), err)
			return
		case !w.reply(w.greet):
			return
		case done:
			w.greet = nil
		case eof:
			w.fail(ShortReply, fmt.Errorf("%w: EOF in the greeting", protocol.ErrShortReply))
			return
		}
	}
	for w.greet == nil && w.x.n > 0 {
		s := &w.x.ring[w.x.head]
		k, done, err := s.m.Match(p, eof)
		p = p[k:]
		if err != nil {
			w.fail(classify(err, false), err)
			return
		}
		if !w.reply(s.m) {
			return
		}
		if !done {
			if eof {
				w.fail(ShortReply, fmt.Errorf("%w: EOF before the reply was complete", protocol.ErrShortReply))
				return
			}
			break
		}
		w.x.complete(t)
	}
	if len(p) > 0 && w.greet == nil && w.x.n == 0 {
		w.fail(WrongReply, fmt.Errorf("%w: %d unsolicited bytes", protocol.ErrWrongReply, len(p)))
		return
	}
	// Keep what a matcher left unconsumed for the next read.
	w.rlen = copy(w.rbuf, p)
	if w.rlen == len(w.rbuf) {
		w.fail(WrongReply, fmt.Errorf("%w: more than %d bytes without a complete reply", protocol.ErrWrongReply, len(w.rbuf)))
		return
	}
	if eof || w.cfg.Reconnect && w.x.n == 0 && w.greet == nil {
		// The server ended the exchange (banner, poetry) or, with short
		// connections, our one request is done: connect anew.
		w.closeConn()
	}
}

// reply sends what m, if it is a protocol.Replier, has to send after the
// Match call just made. It returns false if the connection failed.
func (w *worker) reply(m protocol.Matcher) bool {
	rp, ok := m.(protocol.Replier)
	if !ok {
		return true
	}
	w.rep = rp.Reply(w.rep[:0])
	if len(w.rep) == 0 {
		return true
	}
	now := w.now()
	w.writeDeadline(now)
	nw, err := w.conn.Write(w.rep)
	w.bytesOut += int64(nw)
	if err != nil {
		w.ioError(err, w.now())
		return false
	}
	return true
}

func (w *worker) finish() {
	w.abandon()
	w.timer.Stop()
	w.publish()
}
