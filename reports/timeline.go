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
type Timeline struct {
	P50, P99, Max plotter.XYs
	Rate          plotter.XYs
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
	flush := func() {
		if last == nil || last.TotalCount() == 0 {
			return
		}
		tl.P50 = append(tl.P50, plotter.XY{X: lastX, Y: float64(last.ValueAtPercentile(50)) / 1e6})
		tl.P99 = append(tl.P99, plotter.XY{X: lastX, Y: float64(last.ValueAtPercentile(99)) / 1e6})
		tl.Max = append(tl.Max, plotter.XY{X: lastX, Y: float64(last.Max()) / 1e6})
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
			last, lastX = loadgen.NewHistogram(), x
			last.Merge(h)
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
// vegeta's and fortio's plots do. It returns nothing if the scenario has no
// interval log.
func timelinePlots(base string, s Scenario, colour int) ([]htmlPlot, error) {
	if s.Dir == "" {
		return nil, nil
	}
	path := filepath.Join(base, s.Dir, loadgen.HlogFile)
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	entries, err := ReadHlog(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("timeline %s: %w", path, err)
	}
	tl := timelineOf(entries, s.Summary.DurationS)
	name := s.Model + ", " + connections(s.Summary.Connections)
	if s.Open() {
		name += fmt.Sprintf(", %g req/s", s.Summary.RequestedRate)
	}
	faint := s.Failed()
	var out []htmlPlot
	lat, err := svgPlot(plotSpec{title: name + ": latency", xLabel: "seconds", yLabel: "latency (ms)", x: linearFromZero, y: logAxis, small: true},
		[]Series{
			{Name: "p50", XY: tl.P50, Colour: colour, Dashed: true, Faint: faint},
			{Name: "p99", XY: tl.P99, Colour: colour, Faint: faint},
			{Name: "max", XY: tl.Max, Colour: 13, Faint: faint},
		})
	if err != nil {
		return nil, err
	}
	if lat != "" {
		out = append(out, htmlPlot{Title: name + ": corrected latency per interval", SVG: htmlSVG(lat), Small: true})
	}
	spec := plotSpec{title: name + ": throughput", xLabel: "seconds", yLabel: "answered requests/s", x: linearFromZero, y: linearFromZero, small: true}
	if s.Open() {
		spec.hline, spec.hlineName = s.Summary.RequestedRate, "requested"
	}
	rate, err := svgPlot(spec, []Series{{Name: "achieved", XY: tl.Rate, Colour: colour, Faint: faint}})
	if err != nil {
		return nil, err
	}
	if rate != "" {
		out = append(out, htmlPlot{Title: name + ": achieved rate per interval", SVG: htmlSVG(rate), Small: true})
	}
	return out, nil
}
