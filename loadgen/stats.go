package loadgen

import "sync/atomic"

// stats is what one recorder (a goroutine-engine worker or an epoll-engine
// thread) counts and records. It is touched by its owner alone, except for
// the live counters, which the collector loads for progress reports.
//
// Interval handoff: the owner holds its current interval's histograms
// (cur). When a completion falls into a later interval, the owner itself
// sends cur to the collector over a channel and takes a fresh set from the
// collector's free list. It only ever hands over a histogram it will not
// touch again, so no histogram is shared while written; the channel
// operation happens once per interval, not per request. An owner blocked on
// a slow server hands its interval over late, which only delays the live
// progress line: each value still lands in the interval of its completion.
type stats struct {
	r   *runner
	cur *ivHists

	errs       [numClasses]int64
	firstErr   [numClasses]string
	bytesOut   int64
	bytesIn    int64
	late       int64
	maxLate    int64
	unfinished int64

	_        [64]byte // keep the live counters off the previous fields' cache line
	liveReqs atomic.Int64
	liveErrs atomic.Int64
	_        [64]byte
}

func (s *stats) init(r *runner) {
	s.r = r
	s.cur = newIvHists(-1)
}

func (s *stats) count(c Class, n int, err error) {
	if n == 0 {
		return
	}
	if s.errs[c] == 0 && err != nil {
		s.firstErr[c] = err.Error()
	}
	s.errs[c] += int64(n)
	s.liveErrs.Add(int64(n))
}

// countLate counts a request due at due and sent at now as late if it was
// sent more than lateThreshold after its due time.
func (s *stats) countLate(now, due int64) {
	if late := now - due; late > lateThreshold {
		s.late++
		s.maxLate = max(s.maxLate, late)
	}
}

// record records a completion at t: a latency pair, or (connect) a connect
// time. Each value lands in the interval in which it completed.
func (s *stats) record(t, corrected, uncorrected int64, connect bool) {
	idx := (t - s.r.measure) / s.r.ival
	if idx != s.cur.idx {
		s.rotate(idx)
	}
	if connect {
		s.cur.connect.RecordValue(clamp(uncorrected))
		return
	}
	s.cur.corrected.RecordValue(clamp(corrected))
	s.cur.uncorrected.RecordValue(clamp(uncorrected))
	s.liveReqs.Add(1)
}

func clamp(v int64) int64 { return min(max(v, 0), HighestNs) }

// rotate hands the current interval to the collector and starts interval
// idx with a recycled set of histograms.
func (s *stats) rotate(idx int64) {
	if s.cur.idx >= 0 {
		s.r.pub <- s.cur
		select {
		case h := <-s.r.free:
			s.cur = h
		default:
			s.cur = newIvHists(idx)
		}
	}
	s.cur.reset(idx)
}

// publish hands the last interval to the collector at the end of the run.
func (s *stats) publish() {
	if s.cur != nil && s.cur.idx >= 0 {
		s.r.pub <- s.cur
	}
	s.cur = nil
}

// inWindow reports whether an outcome at t (a completion, a failure, the end
// of the run) belongs to the results: it does if it falls in the measured
// part, whenever its request was sent. Filtering by send time instead would
// hide the requests a server leaves waiting: in a closed loop every
// connection sends its first request during the warm-up, and a connection
// queued past a server's capacity would then show as neither a latency, an
// error nor an unfinished request. A request sent in the warm-up and answered
// in the measured part is recorded with its whole latency, for the same
// reason.
func inWindow(t, measure int64) bool { return t >= measure }
