package loadgen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
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
	x   exchange // the client side of the exchange on the connection
	r   *runner
	cfg *Config
	id  int

	conn    net.Conn
	shared  atomic.Pointer[net.Conn] // conn, for interrupt from the cancelling goroutine
	connSeq int
	rdl     int64 // current read deadline (ns since base), 0 none
	wdl     int64 // current write deadline

	// A write too large to make before reading goes on in its own
	// goroutine (see fill); writing says one is in flight, and its outcome
	// comes on wdone.
	writing bool
	wdone   chan written

	alarm *alarm // wakes the worker at due times, on time (see alarm)
}

// written is the outcome of a write made in its own goroutine.
type written struct {
	n   int
	err error
}

// syncWriteMax is the most request bytes a connection may have in flight
// for the worker to write them before it reads: below it, the replies to
// what it writes fit in the socket buffers, so a server that echoes while
// it reads cannot fill them and stall on the worker, which stalls in turn
// on the server. Past it the write goes on in its own goroutine while the
// worker reads.
const syncWriteMax = 64 << 10

func newWorker(r *runner, id int) (*worker, error) {
	cfg := &r.cfg
	w := &worker{r: r, cfg: cfg, id: id, wdone: make(chan written, 1)}
	if err := w.x.init(r, &w.stats, id); err != nil {
		return nil, err
	}
	a, err := newAlarm()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			return nil, fmt.Errorf("connection %d's timer: %w (%s)", id, err, FdLimit.Advice())
		}
		return nil, fmt.Errorf("connection %d's timer: %w", id, err)
	}
	w.alarm = a
	r.cleanups = append(r.cleanups, a.close)
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
	w.alarm.interrupt()
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
		if now >= w.r.cutoff {
			return
		}
		if w.conn == nil {
			if !w.x.more(now) {
				return
			}
			if due := w.x.connectDue(); due > now {
				if !w.sleepUntil(due) {
					return
				}
				continue
			}
			if !w.connect(now) {
				continue
			}
			now = w.now()
		}
		if !w.fill(now) {
			continue
		}
		if w.x.n == 0 && !w.x.closing && !w.x.more(w.now()) {
			// Nothing in flight and nothing left to send.
			return
		}
		if !w.x.awaits() {
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
	return w.alarm.sleep(d) && !w.stopped()
}

// connect connects, or returns false. A connect still in progress at the
// end of the run is given up (the run's dial context ends then) and left for
// finish to count, with its age (see exchange.abandon).
func (w *worker) connect(now int64) bool {
	var c net.Conn
	var err error
	w.x.connecting(now)
	d := net.Dialer{Timeout: w.cfg.ConnectTimeout}
	if w.cfg.Network == "unixgram" {
		// A unixgram client must be bound to a path, or the server has
		// nowhere to send its reply.
		w.connSeq++
		laddr := &net.UnixAddr{Net: "unixgram", Name: filepath.Join(w.r.tmpdir, fmt.Sprintf("c%d-%d", w.id, w.connSeq))}
		os.Remove(laddr.Name)
		c, err = net.DialUnix("unixgram", laddr, &net.UnixAddr{Net: "unixgram", Name: w.cfg.Addr})
	} else {
		c, err = d.DialContext(w.r.dialCtx, w.cfg.Network, w.cfg.Addr)
	}
	t := w.now()
	if err != nil {
		if dl, ok := w.r.dialCtx.Deadline(); w.r.dialCtx.Err() != nil || ok && !time.Now().Before(dl) {
			// Cut off by the end of the run or its cancellation: still
			// connecting, not failed. (The dial's own deadline may fire
			// before the context says it is done.)
			return false
		}
		w.sleepUntil(w.x.connectFailed(t, err))
		return false
	}
	w.conn = c
	w.shared.Store(&c)
	if w.stopped() {
		c.SetDeadline(time.Unix(1, 0))
	}
	w.x.connected(t)
	w.rdl, w.wdl = 0, 0
	return true
}

// closeConn closes the connection without counting anything.
func (w *worker) closeConn() {
	if w.conn == nil {
		return
	}
	w.shared.Store(nil)
	w.conn.Close()
	if w.writing {
		// The close ends the write; what it sent no longer matters.
		<-w.wdone
		w.writing = false
	}
	if w.cfg.Network == "unixgram" {
		if a, ok := w.conn.LocalAddr().(*net.UnixAddr); ok && a != nil {
			os.Remove(a.Name)
		}
	}
	w.conn = nil
	w.x.reset()
}

// fill sends requests while the pipeline has room and (in an open loop)
// requests are due. It returns false if the connection failed.
//
// A request that would leave more than syncWriteMax request bytes in flight
// is written in its own goroutine (a 16 MiB echo, or a deep pipeline of
// large ones) and fill issues no more until that write is over: the worker
// goes on reading the replies meanwhile. Written before reading, the server's
// echo would fill the socket buffers while the worker is still writing, and
// both would wait for ever.
func (w *worker) fill(now int64) bool {
	if w.writing && !w.joinWrite(w.x.idle()) {
		return false
	}
	for !w.writing {
		buf, ok := w.x.issue(now)
		if !ok {
			break
		}
		if len(buf) == 0 {
			continue
		}
		w.writeDeadline(now)
		if !w.x.dgram && !w.cfg.NoReply && w.x.inFlightBytes() > syncWriteMax {
			w.writing = true
			go func(c net.Conn) {
				n, err := c.Write(buf)
				w.wdone <- written{n, err}
			}(w.conn)
			break
		}
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

// joinWrite takes the outcome of the write in flight, waiting for it if
// wait is set (nothing is awaited from the server, so the write can only be
// waiting on the server's reads), else only if it is over. It returns false
// if the write failed (the connection is then closed).
func (w *worker) joinWrite(wait bool) bool {
	var r written
	if wait {
		r = <-w.wdone
	} else {
		select {
		case r = <-w.wdone:
		default:
			return true
		}
	}
	w.writing = false
	w.bytesOut += int64(r.n)
	if r.err != nil {
		w.ioError(r.err, w.now())
		return false
	}
	return true
}

// setDeadline moves a deadline only when it falls outside [lo, hi] (see
// exchange.window): a request timeout need not be exact, and re-arming the
// runtime's timer on every request costs more than the check. A deadline
// that fires before the request is really overdue is recognised in read and
// ignored.
func (w *worker) setDeadline(cur *int64, lo, hi int64, set func(time.Time) error) {
	if hi >= w.r.cutoff {
		hi = w.r.cutoff
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
	lo, hi := w.x.window(w.now())
	set := w.conn.SetReadDeadline
	if lo == hi {
		// An open loop's due time (a timeout's window has slack).
		set = w.setDueDeadline
	}
	w.setDeadline(&w.rdl, lo, hi, set)
}

// setDueDeadline sets the connection's read deadline and arms the alarm
// for it, so that a read waiting for an open loop's due time ends then,
// not up to a millisecond later. Timeouts need no such precision, and a
// closed loop makes no syscall for it.
func (w *worker) setDueDeadline(t time.Time) error {
	if !t.IsZero() {
		w.alarm.wakeAt(t)
	}
	return w.conn.SetReadDeadline(t)
}

// ioError handles a failed read or write at time t.
func (w *worker) ioError(err error, t int64) {
	if isTimeout(err) && (t >= w.r.cutoff || w.stopped()) {
		w.abandon()
		return
	}
	w.fail(t, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// abandon counts what is left when the run stops (see exchange.abandon)
// and closes the connection.
func (w *worker) abandon() {
	w.x.abandon(w.now())
	w.closeConn()
}

// fail counts the failure err at t (see exchange.fail) and closes the
// connection.
func (w *worker) fail(t int64, err error) {
	w.x.fail(t, err)
	w.closeConn()
}

// read reads once and hands what arrived to the exchange.
func (w *worker) read() {
	w.readDeadline()
	nr, err := w.conn.Read(w.x.recvBuf())
	t := w.now()
	w.bytesIn += int64(nr)
	if err != nil && isTimeout(err) && t < w.r.cutoff {
		// A deadline: the run's cancellation, a request's (or the
		// greeting's) timeout, or else the open loop's next due time or an
		// early one left by setDeadline's slack.
		switch {
		case w.stopped():
			w.abandon()
		case w.x.overdue(t):
			w.fail(t, err)
		}
		return
	}
	w.after(w.x.received(t, nr, err))
}

// after does what the exchange asks once it has handled an event.
func (w *worker) after(o outcome) {
	switch o.next {
	case goOn:
		w.sendOwed()
	case hangUp:
		// What is owed to a server that ended the exchange is sent best
		// effort: no request is left to fail.
		if w.writing && !w.joinWrite(true) {
			return
		}
		if p := w.x.owed(); len(p) > 0 {
			w.writeDeadline(w.now())
			nw, _ := w.conn.Write(p)
			w.bytesOut += int64(nw)
		}
		w.closeConn()
	case failed:
		w.closeConn()
	case runOver:
		w.abandon()
	}
}

// sendOwed sends what the exchange owes the server (what a
// protocol.Replier handed out). It returns false if the connection failed.
func (w *worker) sendOwed() bool {
	p := w.x.owed()
	if len(p) == 0 {
		return true
	}
	if w.writing && !w.joinWrite(true) {
		return false
	}
	w.writeDeadline(w.now())
	nw, err := w.conn.Write(p)
	w.bytesOut += int64(nw)
	w.x.wrote(nw)
	if err != nil {
		w.ioError(err, w.now())
		return false
	}
	return true
}

func (w *worker) finish() {
	w.abandon()
	w.publish()
}
