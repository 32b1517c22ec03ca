package reports

import (
	"fmt"
	"html/template"
	"io"
	"slices"

	"github.com/socklab/socklab/loadgen"
	"gonum.org/v1/plot/plotter"
)

type htmlRow struct {
	Model, Protocol, Rate, Throughput, P50, P90, P99, P999, Max, Errors string
	Connections, Unfinished                                             int64
}

type htmlPlot struct {
	Title string
	SVG   template.HTML
}

type htmlGroup struct {
	Name  string
	Rows  []htmlRow
	Plots []htmlPlot
}

type htmlPage struct {
	Name   string
	Notes  []string
	Groups []htmlGroup
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>socklab load report: {{.Name}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
figure { display: inline-block; margin: 0.5em; }
figure svg { width: 42em; height: auto; }
.note { background: #fff8e0; border-left: 4px solid #e6a000; padding: 0.4em 0.8em; }
</style>
</head>
<body>
<h1>socklab load report: {{.Name}}</h1>
<p>Latency is measured from when each request was due, so a stalled server cannot hide (no coordinated omission); in a closed loop that is when it was sent.
Errors are failed requests by class, never latencies. Plots are drawn with gonum.org/v1/plot.</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Groups}}<h2>{{.Name}}</h2>
<table>
<tr><th>model</th><th>protocol</th><th>connections</th><th>rate</th><th>throughput (req/s)</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>unfinished</th></tr>
{{range .Rows}}<tr><td>{{.Model}}</td><td>{{.Protocol}}</td><td class="n">{{.Connections}}</td><td class="n">{{.Rate}}</td><td class="n">{{.Throughput}}</td><td class="n">{{.P50}}</td><td class="n">{{.P90}}</td><td class="n">{{.P99}}</td><td class="n">{{.P999}}</td><td class="n">{{.Max}}</td><td>{{.Errors}}</td><td class="n">{{.Unfinished}}</td></tr>
{{end}}</table>
{{range .Plots}}<figure>
{{.SVG}}
<figcaption>{{.Title}}</figcaption>
</figure>
{{end}}{{end}}</body>
</html>
`))

// WriteHTML writes a self-contained HTML page for r: per group a table and
// plots, the SVG of each inlined. Per connection count (and for the open
// loop) a latency-by-percentile plot with one line per model; where a group
// has several connection counts, throughput and p99 against connections.
func WriteHTML(w io.Writer, r *Run) error {
	page := htmlPage{Name: r.Name, Notes: r.Notes}
	for _, g := range groups(r) {
		hg := htmlGroup{Name: g[0].Group}
		for _, s := range g {
			m := s.Summary
			l := m.Corrected
			hg.Rows = append(hg.Rows, htmlRow{
				Model: s.Model, Protocol: m.Protocol, Connections: int64(m.Connections), Rate: rateCell(m),
				Throughput: fmt.Sprintf("%.0f", m.AchievedRate),
				P50:        loadgen.FormatDuration(l.P50Us), P90: loadgen.FormatDuration(l.P90Us),
				P99: loadgen.FormatDuration(l.P99Us), P999: loadgen.FormatDuration(l.P999Us),
				Max: loadgen.FormatDuration(l.MaxUs), Errors: errorsCell(m), Unfinished: m.Unfinished,
			})
		}
		plots, err := groupPlots(g)
		if err != nil {
			return err
		}
		hg.Plots = plots
		page.Groups = append(page.Groups, hg)
	}
	return pageTmpl.Execute(w, page)
}

type plotKey struct {
	open  bool
	conns int
}

func groupPlots(g []Scenario) ([]htmlPlot, error) {
	var out []htmlPlot
	add := func(title, x, y string, series []Series, hdrX bool) error {
		svg, err := svgPlot(title, x, y, series, hdrX)
		if err != nil || svg == "" {
			return err
		}
		out = append(out, htmlPlot{Title: title, SVG: template.HTML(svg)})
		return nil
	}
	// Latency by percentile, one plot per (loop, connections).
	var keys []plotKey
	byKey := map[plotKey][]Series{}
	for _, s := range g {
		k := plotKey{s.Open(), s.Summary.Connections}
		h, err := s.Summary.Corrected.Decode()
		if err != nil {
			return nil, err
		}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], Series{Name: s.Model, XY: PercentileSeries(h)})
		if s.Open() {
			hu, err := s.Summary.Uncorrected.Decode()
			if err != nil {
				return nil, err
			}
			byKey[k] = append(byKey[k], Series{Name: s.Model + " (uncorrected)", XY: PercentileSeries(hu)})
		}
	}
	for _, k := range keys {
		title := fmt.Sprintf("%s: latency by percentile, %d connections", g[0].Group, k.conns)
		if k.open {
			title = fmt.Sprintf("%s: latency by percentile, open loop, %d connections", g[0].Group, k.conns)
		}
		if err := add(title, "percentile", "latency (ms)", byKey[k], true); err != nil {
			return nil, err
		}
	}
	// Against concurrency (closed loops only), one line per model.
	var models []string
	tput := map[string]plotter.XYs{}
	p99 := map[string]plotter.XYs{}
	conns := map[int]bool{}
	for _, s := range g {
		if s.Open() {
			continue
		}
		if _, ok := tput[s.Model]; !ok {
			models = append(models, s.Model)
		}
		c := float64(s.Summary.Connections)
		conns[s.Summary.Connections] = true
		tput[s.Model] = append(tput[s.Model], plotter.XY{X: c, Y: s.Summary.AchievedRate})
		p99[s.Model] = append(p99[s.Model], plotter.XY{X: c, Y: s.Summary.Corrected.P99Us / 1e3})
	}
	if len(conns) < 2 {
		return out, nil
	}
	slices.Sort(models)
	var ts, ps []Series
	for _, m := range models {
		ts = append(ts, Series{Name: m, XY: tput[m]})
		ps = append(ps, Series{Name: m, XY: p99[m]})
	}
	if err := add(g[0].Group+": throughput against connections", "connections", "requests/s", ts, false); err != nil {
		return nil, err
	}
	if err := add(g[0].Group+": p99 latency against connections", "connections", "p99 latency (ms)", ps, false); err != nil {
		return nil, err
	}
	return out, nil
}
