package loadgen

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// collector merges the interval histograms the workers hand over and
// reports progress. It runs in its own goroutine and is the only reader of
// the pub channel.
type collector struct {
	r        *runner
	ivs      map[int64]*ivHists
	cum      *hdr.PackedHistogram // corrected latency so far, for progress
	lastReqs int64
	lastAt   time.Time
}

func newCollector(r *runner) *collector {
	return &collector{r: r, ivs: map[int64]*ivHists{}, cum: newPacked()}
}

func (c *collector) run() {
	var tick <-chan time.Time
	if c.r.cfg.Progress != nil {
		t := time.NewTicker(c.r.cfg.Interval)
		defer t.Stop()
		tick = t.C
		c.lastAt = time.Now()
	}
	for {
		select {
		case h, ok := <-c.r.pub:
			if !ok {
				return
			}
			c.add(h)
		case now := <-tick:
			c.progress(now)
		}
	}
}

func (c *collector) add(h *ivHists) {
	agg := c.ivs[h.idx]
	if agg == nil {
		agg = newIvHists(h.idx)
		c.ivs[h.idx] = agg
	}
	agg.merge(h)
	if c.r.cfg.Progress != nil {
		c.cum.Merge(h.corrected)
	}
	h.reset(-1)
	select {
	case c.r.free <- h:
	default:
	}
}

func (c *collector) progress(now time.Time) {
	var reqs, errs int64
	for _, w := range c.r.stats {
		reqs += w.liveReqs.Load()
		errs += w.liveErrs.Load()
	}
	dt := now.Sub(c.lastAt).Seconds()
	p := Progress{
		Elapsed:  now.Sub(c.r.base) - time.Duration(c.r.measure),
		Requests: reqs,
		Errors:   errs,
		P99:      time.Duration(c.cum.ValueAtPercentile(99)),
	}
	if dt > 0 {
		p.Rate = float64(reqs-c.lastReqs) / dt
	}
	c.lastReqs, c.lastAt = reqs, now
	c.r.cfg.Progress(p)
}

// result assembles the run's result once every worker has finished.
// Duration is the measured part as it ran, with the part of the grace that
// was used: the requests answered in it count in the achieved rate, and so
// does the time they took.
func (c *collector) result(start time.Time, elapsed time.Duration) *Result {
	r := c.r
	stopped := int64(elapsed)
	res := &Result{
		Config:               r.cfg,
		Start:                start.Add(time.Duration(r.measure)),
		Duration:             time.Duration(max(stopped-r.measure, 0)),
		Corrected:            NewHistogram(),
		Uncorrected:          NewHistogram(),
		Connect:              NewHistogram(),
		FirstByte:            NewHistogram(),
		FirstByteUncorrected: NewHistogram(),
		FirstErrors:          map[string]string{},
	}
	var last int64 = -1
	for idx := range c.ivs {
		last = max(last, idx)
	}
	startMs := res.Start.UnixMilli()
	ivMs := r.cfg.Interval.Milliseconds()
	stopMs := startMs + max(stopped-r.measure, 0)/1e6
	for idx := int64(0); idx <= last; idx++ {
		h := c.ivs[idx]
		if h == nil {
			h = newIvHists(idx)
		}
		from := startMs + idx*ivMs
		// The last interval ends when the run stopped, so that its rate is
		// not diluted by time that was not run.
		to := max(min(from+ivMs, stopMs), from+1)
		totals := []*hdr.Histogram{res.Corrected, res.Uncorrected, res.Connect, res.FirstByte, res.FirstByteUncorrected}
		for i, p := range h.all() {
			p.SetStartTimeMs(from)
			p.SetEndTimeMs(to)
			p.SetTag(intervalTags[i])
			p.MergeInto(totals[i])
		}
		res.Intervals = append(res.Intervals, Interval{
			Corrected: h.corrected, Uncorrected: h.uncorrected, Connect: h.connect,
			FirstByte: h.firstByte, FirstByteUncorrected: h.firstByteUnc,
			Requested: r.requested(idx),
		})
	}
	for _, w := range r.stats {
		for i, n := range w.errs {
			res.Errors[i] += n
			if n > 0 {
				if _, ok := res.FirstErrors[Class(i).String()]; !ok {
					res.FirstErrors[Class(i).String()] = w.firstErr[i]
				}
			}
		}
		res.Requests += w.completed
		res.BytesSent += w.bytesOut
		res.BytesReceived += w.bytesIn
		res.Late += w.late
		res.MaxLate = max(res.MaxLate, time.Duration(w.maxLate))
		res.Unfinished += w.unfinished
		res.Unsent += w.unsent
		res.Connecting += w.connecting
		res.Connects += w.opened
		res.Oldest = max(res.Oldest, time.Duration(w.oldest))
	}
	return res
}

// requested returns what the open loop's schedule asked of interval idx of
// the measured part, of this shard: the requests due in it before the end
// and their rate; nil in a closed loop or after the end.
func (r *runner) requested(idx int64) *Requested {
	a := r.measure + idx*r.ival
	if r.cfg.Rate.IsZero() || a >= r.end {
		return nil
	}
	b := min(a+r.ival, r.end)
	// The one schedule's requests j < J that are this shard's: j mod N
	// is its index.
	n, i := int64(max(r.cfg.Shards, 1)), int64(r.cfg.Shard)
	own := func(J int64) int64 { return max(J-i+n-1, 0) / n }
	due := own(r.sched.firstAt(b)) - own(r.sched.firstAt(a))
	return &Requested{Due: due, Rate: float64(due) / (float64(b-a) / 1e9)}
}
