package reports

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/socklab/socklab/loadgen"
	"gonum.org/v1/plot/plotter"
)

type htmlRow struct {
	Model, Rate, Achieved, Success, P50, P90, P99, P999, Max, Errors string
	Connections, Unsent, Unfinished, Late                            int64
	Failed                                                           bool
	Status                                                           string
	Crossed                                                          []string
}

type htmlPlot struct {
	Title string
	SVG   template.HTML
	Small bool
}

type htmlGroup struct {
	Name     string
	Rows     []htmlRow
	Plots    []htmlPlot
	Timeline []htmlPlot
	Faint    bool // some scenario failed: its lines are faint
	// ConnHeader and Conns are the connection figures of a group of
	// short connections (see connRows).
	ConnHeader []string
	Conns      [][]string
}

// htmlWorkload is one line of the summary table: a workload and how the
// models did on it.
type htmlWorkload struct {
	Name          string
	FastestP50    string
	FastestP99    string
	Failed        []string
	ServedNothing bool // no model served every request
}

type htmlPage struct {
	Name       string
	Notes      []string
	Thresholds string
	Crossed    []string
	Workloads  []htmlWorkload
	Groups     []htmlGroup
}

// pageCSS is the style of every HTML page of the reports.
const pageCSS = `body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 100em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
tr.fail td { background: #fdecea; color: #555; }
td.bad { color: #a40000; }
td.ok { color: #1a7f37; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure svg { max-width: 100%; height: auto; }
figure.small svg { width: 25em; }
figcaption { font-size: 0.85em; color: #555; max-width: 42em; }
.note { background: #fff8e0; border-left: 4px solid #e6a000; padding: 0.4em 0.8em; }
`

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>socklab load report: {{.Name}}</title>
<style>
` + pageCSS + `</style>
</head>
<body>
<h1>socklab load report: {{.Name}}</h1>
<h2>Summary</h2>
<table class="summary">
<tr><th>workload</th><th>fastest at p50</th><th>fastest at p99</th><th>did not serve every request (share answered)</th></tr>
{{range .Workloads}}<tr><td>{{.Name}}</td>{{if .ServedNothing}}<td colspan="2" class="bad">no model served every request</td>{{else}}<td>{{.FastestP50}}</td><td>{{.FastestP99}}</td>{{end}}<td class="bad">{{range $i, $f := .Failed}}{{if $i}}<br>{{end}}✗ {{$f}}{{else}}-{{end}}</td></tr>
{{end}}</table>
<p>The fastest models are chosen among those that served every request due: a model that failed, left requests unsent or unfinished, or answered none is listed as failed, never as fastest, whatever its latency.
Latency is the corrected latency: from when each request was due (in a closed loop, when it was sent), so a stalled server cannot hide (no coordinated omission); a timeout counts at the time it took, and a request left unsent or unfinished at the end at its age then, a lower bound.</p>
{{if .Thresholds}}<div class="note">Thresholds checked on every scenario: {{.Thresholds}}.{{if .Crossed}} Crossed by:
<ul>{{range .Crossed}}<li>{{.}}</li>{{end}}</ul>{{else}} None was crossed.{{end}}</div>
{{end}}{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Groups}}<h2>{{.Name}}</h2>
<table>
<tr><th>model</th><th>connections</th><th>requested</th><th>achieved (req/s)</th><th>success</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>failed</th><th>unsent</th><th>unfinished</th><th>late</th><th>served every request</th>{{if $.Thresholds}}<th>thresholds crossed</th>{{end}}</tr>
{{range .Rows}}<tr{{if .Failed}} class="fail"{{end}}><td>{{.Model}}</td><td class="n">{{.Connections}}</td><td class="n">{{.Rate}}</td><td class="n">{{.Achieved}}</td><td class="n">{{.Success}}</td><td class="n">{{.P50}}</td><td class="n">{{.P90}}</td><td class="n">{{.P99}}</td><td class="n">{{.P999}}</td><td class="n">{{.Max}}</td><td>{{.Errors}}</td><td class="n">{{.Unsent}}</td><td class="n">{{.Unfinished}}</td><td class="n">{{.Late}}</td><td class="{{if .Failed}}bad{{else}}ok{{end}}">{{.Status}}</td>{{if $.Thresholds}}<td class="bad">{{range $i, $c := .Crossed}}{{if $i}}<br>{{end}}{{$c}}{{else}}-{{end}}</td>{{end}}</tr>
{{end}}</table>
{{if .Conns}}<table>
<tr>{{range .ConnHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Conns}}<tr>{{range $i, $c := .}}<td{{if $i}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{if .Faint}}<p class="note">Rows in red did not serve every request; their lines are drawn faint, and their latency holds lower bounds (timeouts, and the ages of requests left unsent or unfinished).</p>
{{end}}{{range .Plots}}<figure>
{{.SVG}}
<figcaption>{{.Title}}</figcaption>
</figure>
{{end}}{{if .Timeline}}<h3>{{.Name}} over time</h3>
<p>Per interval of the run: the corrected latency's p50 (dashed), p99 and max, and the rate of answered requests against the requested one.</p>
{{range .Timeline}}<figure class="small">
{{.SVG}}
</figure>
{{end}}{{end}}{{end}}</body>
</html>
`))

func htmlSVG(s string) template.HTML { return template.HTML(s) }

// WriteHTML writes a self-contained HTML page for r. It opens with a
// summary table: for each workload, the models fastest at p50 and at p99
// among those that served every request, and the models that did not, with
// their share of requests answered. Then per group a table (failed
// scenarios marked) and plots, the SVG of each inlined: per connection
// count (and for the open loop) latency by percentile, one colour per
// model, its corrected latency solid and uncorrected dashed, failed
// scenarios faint; where a group has several connection counts, throughput
// (from 0) and p99 (log) against connections; and each scenario's latency
// and rate over time, from its latency.hlog (found under r.Base).
func WriteHTML(w io.Writer, r *Run) error {
	page := htmlPage{Name: r.Name, Notes: r.Notes, Thresholds: strings.Join(r.Thresholds, ", ")}
	colours := modelColours(r)
	for _, s := range r.Scenarios {
		if c := loadgen.Crossed(s.Summary.Thresholds); len(c) > 0 {
			var cs []string
			for _, t := range c {
				cs = append(cs, fmt.Sprintf("%s (%s)", t.Expr, t.Value))
			}
			page.Crossed = append(page.Crossed, fmt.Sprintf("%s, %s: %s", s.Model, s.Workload(), strings.Join(cs, ", ")))
		}
	}
	page.Workloads = workloads(r)
	for _, g := range groups(r) {
		hg := htmlGroup{Name: g[0].Group}
		for _, s := range g {
			m := s.Summary
			l := m.Corrected
			hg.Rows = append(hg.Rows, htmlRow{
				Model: s.Model, Connections: int64(m.Connections), Rate: rateCell(m),
				Achieved: fmt.Sprintf("%.0f", m.AchievedRate), Success: loadgen.FormatRatio(m.SuccessRatio),
				P50: latencyCell(l, l.P50Us), P90: latencyCell(l, l.P90Us),
				P99: latencyCell(l, l.P99Us), P999: latencyCell(l, l.P999Us),
				Max: latencyCell(l, l.MaxUs), Errors: errorsCell(m), Unsent: m.Unsent, Unfinished: m.Unfinished, Late: m.Late,
				Failed: s.Failed(), Status: problemsCell(s), Crossed: crossedCells(s),
			})
			hg.Faint = hg.Faint || s.Failed()
		}
		for _, c := range connRows(g) {
			hg.ConnHeader = connHeader
			hg.Conns = append(hg.Conns, c.cells())
		}
		plots, err := groupPlots(g, colours)
		if err != nil {
			return err
		}
		hg.Plots = plots
		for _, s := range g {
			tl, byRate, err := timelinePlots(r.Base, s, colours[s.Model])
			if err != nil {
				return err
			}
			hg.Timeline = append(hg.Timeline, tl...)
			hg.Plots = append(hg.Plots, byRate...)
		}
		page.Groups = append(page.Groups, hg)
	}
	return pageTmpl.Execute(w, page)
}

// modelColours gives each model of the run its palette index, in name
// order, so that a model has one colour in every plot.
func modelColours(r *Run) map[string]int {
	var models []string
	for _, s := range r.Scenarios {
		if !slices.Contains(models, s.Model) {
			models = append(models, s.Model)
		}
	}
	slices.Sort(models)
	out := map[string]int{}
	for i, m := range models {
		out[m] = i
	}
	return out
}

// workloads returns the summary table: per workload, in the run's order,
// the fastest models at p50 and p99 among those that served every request,
// and the others.
func workloads(r *Run) []htmlWorkload {
	var out []htmlWorkload
	idx := map[string]int{}
	best := map[string][2]*Scenario{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		name := s.Workload()
		k, ok := idx[name]
		if !ok {
			k = len(out)
			idx[name] = k
			out = append(out, htmlWorkload{Name: name})
		}
		if s.Failed() {
			out[k].Failed = append(out[k].Failed, fmt.Sprintf("%s: %s answered (%s)", s.Model, loadgen.FormatRatio(s.Summary.SuccessRatio), strings.Join(s.Summary.Problems(), ", ")))
			continue
		}
		b := best[name]
		if b[0] == nil || s.Summary.Corrected.P50Us < b[0].Summary.Corrected.P50Us {
			b[0] = s
		}
		if b[1] == nil || s.Summary.Corrected.P99Us < b[1].Summary.Corrected.P99Us {
			b[1] = s
		}
		best[name] = b
	}
	for i := range out {
		b := best[out[i].Name]
		if b[0] == nil {
			out[i].ServedNothing = true
			continue
		}
		out[i].FastestP50 = fmt.Sprintf("%s (%s)", b[0].Model, loadgen.FormatDuration(b[0].Summary.Corrected.P50Us))
		out[i].FastestP99 = fmt.Sprintf("%s (%s)", b[1].Model, loadgen.FormatDuration(b[1].Summary.Corrected.P99Us))
	}
	return out
}

type plotKey struct {
	open  bool
	conns int
}

func groupPlots(g []Scenario, colours map[string]int) ([]htmlPlot, error) {
	var out []htmlPlot
	add := func(spec plotSpec, series []Series, caption string) error {
		svg, err := svgPlot(spec, series)
		if err != nil || svg == "" {
			return err
		}
		out = append(out, htmlPlot{Title: caption, SVG: htmlSVG(svg)})
		return nil
	}
	// Latency by percentile, one plot per (loop, connections).
	var keys []plotKey
	byKey := map[plotKey][]Series{}
	faint := map[plotKey]bool{}
	for _, s := range g {
		k := plotKey{s.Open(), s.Summary.Connections}
		h, err := s.Summary.Corrected.Decode()
		if err != nil {
			return nil, err
		}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		name := s.Model
		if s.Failed() {
			name += fmt.Sprintf(" ✗ %s answered", loadgen.FormatRatio(s.Summary.SuccessRatio))
			faint[k] = true
		}
		c := colours[s.Model]
		byKey[k] = append(byKey[k], Series{Name: name, XY: PercentileSeries(h), Colour: c, Faint: s.Failed()})
		if s.Open() || s.Summary.Uncorrected.Histogram != s.Summary.Corrected.Histogram {
			hu, err := s.Summary.Uncorrected.Decode()
			if err != nil {
				return nil, err
			}
			byKey[k] = append(byKey[k], Series{Name: s.Model + " (from sent, answered only)", XY: PercentileSeries(hu), Colour: c, Dashed: true, Faint: s.Failed()})
		}
	}
	for _, k := range keys {
		title := fmt.Sprintf("%s: latency by percentile, %s", g[0].Group, connections(k.conns))
		if k.open {
			title = fmt.Sprintf("%s: latency by percentile, open loop, %s", g[0].Group, connections(k.conns))
		}
		caption := title + "."
		if slices.ContainsFunc(byKey[k], func(s Series) bool { return s.Dashed }) {
			caption += " Solid: corrected latency, from when due; dashed: from when sent, answered requests only."
		}
		if faint[k] {
			caption += " Faint (✗): did not serve every request; its corrected latency holds lower bounds."
		}
		if err := add(plotSpec{title: title, xLabel: "percentile", yLabel: "latency (ms)", x: hdrAxis, y: logAxis}, byKey[k], caption); err != nil {
			return nil, err
		}
	}
	// Against concurrency (closed loops only), one line per model.
	var models []string
	tput := map[string]plotter.XYs{}
	p99 := map[string]plotter.XYs{}
	failedAt := map[string][]string{}
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
		if s.Failed() {
			failedAt[s.Model] = append(failedAt[s.Model], fmt.Sprint(s.Summary.Connections))
		}
	}
	if len(conns) < 2 {
		return out, nil
	}
	slices.Sort(models)
	var ts, ps []Series
	for _, m := range models {
		name := m
		if f := failedAt[m]; len(f) > 0 {
			name += " ✗ at " + strings.Join(f, ", ")
		}
		ts = append(ts, Series{Name: name, XY: tput[m], Colour: colours[m]})
		ps = append(ps, Series{Name: name, XY: p99[m], Colour: colours[m]})
	}
	note := " ✗: did not serve every request at those connection counts."
	title := g[0].Group + ": throughput against connections"
	if err := add(plotSpec{title: title, xLabel: "connections", yLabel: "answered requests/s", x: logAxis, y: linearFromZero}, ts, title+"."+note); err != nil {
		return nil, err
	}
	title = g[0].Group + ": p99 latency against connections"
	if err := add(plotSpec{title: title, xLabel: "connections", yLabel: "p99 latency (ms)", x: logAxis, y: logAxis}, ps, title+" (corrected)."+note); err != nil {
		return nil, err
	}
	return out, nil
}
