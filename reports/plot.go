package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one line of a plot. Lines of one model share its colour
// (Colour, an index into the palette): its corrected latency solid, its
// uncorrected latency Dashed. Faint draws the line of a scenario that did
// not serve every request light, so that the eye goes to the others.
type Series struct {
	Name   string
	XY     plotter.XYs
	Colour int
	Dashed bool
	Faint  bool
}

// palette is a colour-blind-safe set (Okabe and Ito) and, past its eight,
// darker tones of its hues.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255}, color.RGBA{240, 228, 66, 255},
	color.RGBA{0, 60, 100, 255}, color.RGBA{130, 50, 0, 255}, color.RGBA{0, 90, 60, 255},
	color.RGBA{130, 60, 100, 255}, color.RGBA{140, 90, 0, 255}, color.RGBA{100, 100, 100, 255},
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

// axis is how a plot's axis is scaled.
type axis int

const (
	linearFromZero axis = iota // throughput: a linear axis from 0, so bars of size compare
	logAxis                    // latency, connections: a log axis
	hdrAxis                    // the percentile axis of HdrHistogram's plots, 1/(1-p)
)

// plotSpec is what one plot shows.
type plotSpec struct {
	title, xLabel, yLabel string
	x, y                  axis
	small                 bool    // a small multiple (one scenario over time)
	hline                 float64 // a reference level drawn dashed grey (the requested rate), if positive
	hlineName             string
}

// svgPlot draws the series and returns the SVG ("" if no series has a
// point).
func svgPlot(spec plotSpec, series []Series) (string, error) {
	p := plot.New()
	p.Title.Text = spec.title
	p.X.Label.Text = spec.xLabel
	p.Y.Label.Text = spec.yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	scale := func(a *plot.Axis, kind axis) {
		switch kind {
		case hdrAxis:
			a.Scale = plot.LogScale{}
			a.Tick.Marker = percentileTicks{}
		case logAxis:
			a.Scale = plot.LogScale{}
			a.Tick.Marker = plot.LogTicks{Prec: -1}
		default:
			a.Min = 0
			a.Tick.Marker = compactTicks{}
		}
	}
	scale(&p.X, spec.x)
	scale(&p.Y, spec.y)
	n := 0
	for _, s := range series {
		xy := s.XY
		if spec.y != linearFromZero || spec.x != linearFromZero {
			xy = positive(xy, spec.x != linearFromZero, spec.y != linearFromZero)
		}
		if len(xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", spec.title, err)
		}
		c := palette[s.Colour%len(palette)]
		if s.Faint {
			c = faint(c)
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if s.Faint {
			l.Width = vg.Points(1)
		}
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		} else {
			l.Dashes = dashes(s.Colour / len(palette))
		}
		pts.Color = c
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(1.5)
		if spec.x == hdrAxis || spec.small && len(xy) > 12 {
			pts.Radius = 0
		}
		p.Add(l, pts)
		p.Legend.Add(s.Name, l)
		n++
	}
	if n == 0 {
		return "", nil
	}
	if spec.hline > 0 {
		h := plotter.NewFunction(func(float64) float64 { return spec.hline })
		h.Color = color.Gray{150}
		h.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		h.Width = vg.Points(1)
		p.Add(h)
		p.Legend.Add(spec.hlineName, h)
		p.Y.Max = max(p.Y.Max, spec.hline*1.1)
		if spec.y != linearFromZero {
			// On a log axis the line may lie below every point.
			p.Y.Min = min(p.Y.Min, spec.hline/1.1)
		}
	}
	w, hgt := 7*vg.Inch, 4*vg.Inch
	if spec.small {
		w, hgt = 4.2*vg.Inch, 2.6*vg.Inch
		p.Title.TextStyle.Font.Size = vg.Points(10)
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		for _, a := range []*plot.Axis{&p.X, &p.Y} {
			a.Label.TextStyle.Font.Size = vg.Points(9)
			a.Tick.Label.Font.Size = vg.Points(8)
		}
	}
	var c *vgsvg.Canvas
	if spec.small {
		c = vgsvg.New(w, hgt)
		p.Draw(draw.New(c))
	} else {
		// The legend goes right of the plot, never over its lines: a
		// comparison of eleven models has eleven entries.
		legend := p.Legend
		p.Legend = plot.NewLegend()
		legend.Top, legend.Left = true, true
		gap := vg.Points(8)
		lw := legend.Rectangle(draw.Canvas{}).Size().X + gap // its size needs no canvas
		c = vgsvg.New(w+lw, hgt)
		dc := draw.New(c)
		p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
		top := vg.Length(0)
		if p.Title.Text != "" {
			top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
		}
		legend.Draw(draw.Crop(dc, w+gap, 0, 0, -top))
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("plot %s: %w", spec.title, err)
	}
	// Drop the XML prolog so the SVG can sit inline in HTML.
	out := buf.String()
	if i := strings.Index(out, "<svg"); i > 0 {
		out = out[i:]
	}
	return out, nil
}

// compactTicks labels a linear axis with gonum's default ticks, written
// without trailing zeros (50000, not 50000.00).
type compactTicks struct{}

func (compactTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			v, _ := strconv.ParseFloat(strconv.FormatFloat(ts[i].Value, 'g', 6, 64), 64)
			ts[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ts
}

// positive keeps the points a log axis can show: x (if logX) and y (if
// logY) above zero.
func positive(xy plotter.XYs, logX, logY bool) plotter.XYs {
	out := make(plotter.XYs, 0, len(xy))
	for _, p := range xy {
		if logX && p.X <= 0 || logY && p.Y <= 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// faint returns c lightened towards white, for the lines of failed
// scenarios.
func faint(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)*35/100 + 255*65/100) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

func dashes(k int) []vg.Length {
	if k == 0 {
		return nil
	}
	return []vg.Length{vg.Points(float64(2 * k)), vg.Points(2)}
}
