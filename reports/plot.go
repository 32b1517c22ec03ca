package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one line of a plot.
type Series struct {
	Name string
	XY   plotter.XYs
}

// palette is a colour-blind-safe set (Okabe and Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255}, color.RGBA{240, 228, 66, 255},
}

// percentileTicks labels the 1/(1-p) axis of an HDR plot.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	var ts []plot.Tick
	for i, l := range labels {
		v := math.Pow(10, float64(i))
		if v >= min && v <= max*1.0001 {
			ts = append(ts, plot.Tick{Value: v, Label: l})
		}
		if i == 0 && 2 <= max {
			ts = append(ts, plot.Tick{Value: 2, Label: "50%"})
		}
	}
	return ts
}

// PercentileSeries returns the latency-by-percentile curve of h
// (nanoseconds): x is 1/(1-p), y is latency in milliseconds, as
// HdrHistogram's plotter draws it.
func PercentileSeries(h *hdr.Histogram) plotter.XYs {
	var xy plotter.XYs
	if h.TotalCount() == 0 {
		return xy
	}
	for _, b := range h.CumulativeDistributionWithTicks(5) {
		q := b.Quantile / 100
		if q >= 1 {
			break
		}
		xy = append(xy, plotter.XY{X: 1 / (1 - q), Y: float64(b.ValueAt) / 1e6})
	}
	// The maximum, at the next decade past the last point.
	last := 1.0
	if len(xy) > 0 {
		last = xy[len(xy)-1].X
	}
	xy = append(xy, plotter.XY{X: math.Pow(10, math.Ceil(math.Log10(last*1.0001))), Y: float64(h.Max()) / 1e6})
	return xy
}

// svgPlot draws lines and returns the SVG. logX draws an HDR percentile
// axis; otherwise x is a log-scale count (connections).
func svgPlot(title, xLabel, yLabel string, series []Series, hdrX bool) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	if hdrX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = percentileTicks{}
	} else {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	n := 0
	for i, s := range series {
		if len(s.XY) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.XY)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", title, err)
		}
		c := palette[i%len(palette)]
		l.Color = c
		l.Width = vg.Points(1.5)
		l.Dashes = dashes(i / len(palette))
		pts.Color = c
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(1.5)
		if hdrX {
			pts.Radius = 0
		}
		p.Add(l, pts)
		p.Legend.Add(s.Name, l)
		n++
	}
	if n == 0 {
		return "", nil
	}
	c := vgsvg.New(7*vg.Inch, 4*vg.Inch)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("plot %s: %w", title, err)
	}
	// Drop the XML prolog so the SVG can sit inline in HTML.
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return s, nil
}

func dashes(k int) []vg.Length {
	if k == 0 {
		return nil
	}
	return []vg.Length{vg.Points(float64(2 * k)), vg.Points(2)}
}
