package reports

import (
	"fmt"
	"os"
	"path/filepath"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot/plotter"

	"github.com/socklab/socklab/loadgen"
)

// Timeline is one scenario over time, from its latency.hlog, one point per
// interval at the interval's end (seconds since the measured part began):
// the corrected latency's p50, p99 and max in milliseconds, and the rate
// of answered requests (the uncorrected histogram's count over the
// interval's length). The intervals of the grace after the end of the run
// have latencies (requests answered or given up then) but no rate: nothing
// was sent in them.
//
// An open loop's log says what each interval requested (see
// loadgen.FormatRequested): Requested is that rate over time, and RateP50,
// RateP99 and RateP999 the corrected latency of each interval (ms) against
// the rate it requested (requests/s), for a rate that varies (a ramp,
// steps).
type Timeline struct {
	P50, P99, P999, Max        plotter.XYs
	Rate, Requested            plotter.XYs
	RateP50, RateP99, RateP999 plotter.XYs
}

// ReadTimeline reads the interval log at path.
func ReadTimeline(path string) (Timeline, error) {
	f, err := os.Open(path)
	if err != nil {
		return Timeline{}, fmt.Errorf("timeline: %w", err)
	}
	defer f.Close()
	entries, err := ReadHlog(f)
	if err != nil {
		return Timeline{}, fmt.Errorf("timeline %s: %w", path, err)
	}
	return timelineOf(entries, 0), nil
}

// timelineOf makes the timeline of entries. With a positive endS (the
// measured part's length, in seconds), the intervals that begin at or after
// it, in the grace after the end of the run, are merged into the last one
// before it for the latency (what was answered or given up in the grace is
// shown, at the run's end) and left out of the rate (nothing was sent in
// them).
func timelineOf(entries []LogEntry, endS float64) Timeline {
	var tl Timeline
	if len(entries) == 0 {
		return tl
	}
	start := entries[0].StartMs
	for _, e := range entries {
		start = min(start, e.StartMs)
	}
	after := func(e LogEntry) bool { return endS > 0 && float64(e.StartMs-start)/1e3 >= endS-1e-3 }
	var last *hdr.Histogram // the corrected histogram of the last point, into which the grace is merged
	var lastX float64
	var lastReq *loadgen.Requested
	flush := func() {
		if last == nil || last.TotalCount() == 0 {
			return
		}
		ms := func(p float64) float64 { return float64(last.ValueAtPercentile(p)) / 1e6 }
		tl.P50 = append(tl.P50, plotter.XY{X: lastX, Y: ms(50)})
		tl.P99 = append(tl.P99, plotter.XY{X: lastX, Y: ms(99)})
		tl.P999 = append(tl.P999, plotter.XY{X: lastX, Y: ms(99.9)})
		tl.Max = append(tl.Max, plotter.XY{X: lastX, Y: float64(last.Max()) / 1e6})
		if lastReq != nil {
			r := lastReq.Rate
			tl.RateP50 = append(tl.RateP50, plotter.XY{X: r, Y: ms(50)})
			tl.RateP99 = append(tl.RateP99, plotter.XY{X: r, Y: ms(99)})
			tl.RateP999 = append(tl.RateP999, plotter.XY{X: r, Y: ms(99.9)})
		}
	}
	for _, e := range entries {
		x := float64(e.EndMs-start) / 1e3
		h := e.Histogram
		switch e.Tag {
		case loadgen.TagCorrected:
			if after(e) && last != nil {
				last.Merge(h)
				continue
			}
			flush()
			last, lastX, lastReq = loadgen.NewHistogram(), x, e.Requested
			last.Merge(h)
			if e.Requested != nil {
				tl.Requested = append(tl.Requested, plotter.XY{X: x, Y: e.Requested.Rate})
			}
		case loadgen.TagUncorrected:
			if after(e) {
				continue
			}
			if d := float64(e.EndMs-e.StartMs) / 1e3; d > 0 {
				tl.Rate = append(tl.Rate, plotter.XY{X: x, Y: float64(h.TotalCount()) / d})
			}
		}
	}
	flush()
	return tl
}

// timelinePlots draws a scenario's latency over time (p50, p99 and max on
// a log axis) and its achieved rate against the requested one (from 0), as
// vegeta's and fortio's plots do; and, for a rate that varies (a ramp,
// steps), its latency against the rate each interval requested (byRate, a
// full-size plot). It returns nothing if the scenario has no interval log.
func timelinePlots(base string, s Scenario, colour int) (out, byRate []htmlPlot, err error) {
	if s.Dir == "" {
		return nil, nil, nil
	}
	path := filepath.Join(base, s.Dir, loadgen.HlogFile)
	if _, err := os.Stat(path); err != nil {
		return nil, nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("timeline: %w", err)
	}
	entries, err := ReadHlog(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("timeline %s: %w", path, err)
	}
	tl := timelineOf(entries, s.Summary.DurationS)
	name := s.Model + ", " + connections(s.Summary.Connections)
	shaped := s.Summary.RateShape != ""
	switch {
	case shaped:
		name += ", rate " + s.Summary.RateShape
	case s.Open():
		name += fmt.Sprintf(", %g req/s", s.Summary.RequestedRate)
	}
	faint := s.Failed()
	if shaped {
		title := name + ": corrected latency against requested rate"
		svg, err := svgPlot(plotSpec{title: title, xLabel: "requested rate (requests/s)", yLabel: "corrected latency (ms)", x: linearFromZero, y: logAxis},
			[]Series{
				{Name: "p50", XY: tl.RateP50, Colour: colour, Dashed: true, Faint: faint},
				{Name: "p99", XY: tl.RateP99, Colour: colour, Faint: faint},
				{Name: "p99.9", XY: tl.RateP999, Colour: 13, Faint: faint},
			})
		if err != nil {
			return nil, nil, err
		}
		if svg != "" {
			byRate = append(byRate, htmlPlot{Title: title + ": one point per interval of the run, at the rate its schedule requested, latency measured from when each request was due.", SVG: htmlSVG(svg)})
		}
	}
	lat, err := svgPlot(plotSpec{title: name + ": latency", xLabel: "seconds", yLabel: "latency (ms)", x: linearFromZero, y: logAxis, small: true},
		[]Series{
			{Name: "p50", XY: tl.P50, Colour: colour, Dashed: true, Faint: faint},
			{Name: "p99", XY: tl.P99, Colour: colour, Faint: faint},
			{Name: "max", XY: tl.Max, Colour: 13, Faint: faint},
		})
	if err != nil {
		return nil, nil, err
	}
	if lat != "" {
		out = append(out, htmlPlot{Title: name + ": corrected latency per interval", SVG: htmlSVG(lat), Small: true})
	}
	spec := plotSpec{title: name + ": throughput", xLabel: "seconds", yLabel: "answered requests/s", x: linearFromZero, y: linearFromZero, small: true}
	series := []Series{{Name: "achieved", XY: tl.Rate, Colour: colour, Faint: faint}}
	switch {
	case shaped:
		series = append(series, Series{Name: "requested", XY: tl.Requested, Colour: 13, Dashed: true})
	case s.Open():
		spec.hline, spec.hlineName = s.Summary.RequestedRate, "requested"
	}
	rate, err := svgPlot(spec, series)
	if err != nil {
		return nil, nil, err
	}
	if rate != "" {
		out = append(out, htmlPlot{Title: name + ": achieved rate per interval", SVG: htmlSVG(rate), Small: true})
	}
	return out, byRate, nil
}
