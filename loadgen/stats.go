package loadgen

import "sync/atomic"

// stats is what one recorder (a goroutine-engine worker or an epoll-engine
// thread) counts and records. It is touched by its owner alone, except for
// the live counters, which the collector loads for progress reports.
//
// Interval handoff: the owner holds its current interval's histograms
// (cur). When a value falls into a later interval, the owner itself sends
// cur to the collector over a channel and takes a fresh set from the
// collector's free list. It only ever hands over a histogram it will not
// touch again, so no histogram is shared while written; the channel
// operation happens once per interval, not per request. An owner blocked on
// a slow server hands its interval over late, which only delays the live
// progress line: each value still lands in the interval in which it was
// recorded.
//
// The books: every request due in the measured part ends in exactly one of
// completed (its latency recorded in both histograms), errs (by class; a
// timeout's time is recorded in the corrected histogram), unfinished (sent,
// unanswered when the run stopped) or unsent (due, never sent); the last two
// record their age when the run stopped in the corrected histogram, as a
// lower bound of their latency. So the corrected histogram holds every
// request that could have been slow, and a server that serves nobody cannot
// show a low percentile there.
type stats struct {
	r   *runner
	cur *ivHists

	completed  int64
	errs       [numClasses]int64
	firstErr   [numClasses]string
	bytesOut   int64
	bytesIn    int64
	late       int64
	maxLate    int64
	unfinished int64 // sent, unanswered when the run stopped
	unsent     int64 // due, never sent
	connecting int64 // connects still in progress when the run stopped
	opened     int64 // connects begun in the measured part that completed
	oldest     int64 // the largest age of an unfinished or unsent request

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

// at returns the histograms of the interval in which t falls.
func (s *stats) at(t int64) *ivHists {
	idx := (t - s.r.measure) / s.r.ival
	if idx != s.cur.idx {
		s.rotate(idx)
	}
	return s.cur
}

// done records a request answered at t: its latency from when it was due
// (corrected) and from when it was sent (uncorrected).
func (s *stats) done(t, corrected, uncorrected int64) {
	h := s.at(t)
	h.corrected.RecordValue(clamp(corrected))
	h.uncorrected.RecordValue(clamp(uncorrected))
	s.completed++
	s.liveReqs.Add(1)
}

// connected records at t a connect that took d.
func (s *stats) connected(t, d int64) { s.at(t).connect.RecordValue(clamp(d)) }

// firstByte records at t a short connection's time to its first byte, from
// when the connection was due (corrected) and from when its connect began
// (uncorrected).
func (s *stats) firstByte(t, corrected, uncorrected int64) {
	h := s.at(t)
	h.firstByte.RecordValue(clamp(corrected))
	h.firstByteUnc.RecordValue(clamp(uncorrected))
}

// bound records at t, in the corrected histogram only, the time a request
// that was not answered had waited: a timeout's, or the age of a request
// unsent or unfinished when the run stopped. For the latter it is a lower
// bound of the latency the request would have had.
func (s *stats) bound(t, waited int64) { s.at(t).corrected.RecordValue(clamp(waited)) }

// lost counts a request that the run stopped before it was answered (unsent
// if it was never sent) and records its age.
func (s *stats) lost(t, age int64, sent bool) {
	if sent {
		s.unfinished++
	} else {
		s.unsent++
	}
	s.oldest = max(s.oldest, age)
	s.bound(t, age)
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
