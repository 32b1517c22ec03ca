package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/socklab/socklab/loadgen"
)

// FindFile is the results of a search for the highest rate that meets a
// target (socklab load --find, socklab bench --find).
const FindFile = "find.json"

// FindRun is one search (socklab load --find) or one a model (socklab
// bench --find) under the same criteria and workload: the content of
// find.json.
type FindRun struct {
	Name  string   `json:"name"`
	Notes []string `json:"notes,omitempty"`
	// Workload says what each step ran, its rate aside (protocol,
	// connections, step length).
	Workload string   `json:"workload"`
	Criteria []string `json:"criteria"`
	// Searches are ranked (see Rank).
	Searches []Search `json:"searches"`
}

// Search is one model's search.
type Search struct {
	Model string `json:"model"`
	// Dir holds the steps' directories, relative to the run's ("" or "."
	// for the run's own).
	Dir    string             `json:"dir,omitempty"`
	Result loadgen.FindResult `json:"result"`
}

// Rank orders the searches by the rate each sustained under the target,
// highest first; a search in which not even the start rate met the target
// comes after every search that met at some rate, whatever its steps'
// latencies. Ties keep model order.
func (r *FindRun) Rank() {
	slices.SortStableFunc(r.Searches, func(a, b Search) int {
		switch {
		case a.Result.Rate > b.Result.Rate:
			return -1
		case a.Result.Rate < b.Result.Rate:
			return 1
		}
		return strings.Compare(a.Model, b.Model)
	})
}

// WriteFindRun writes find.json, summary.md and index.html (the ranking,
// the plot of the target's latency against rate with the target line, and
// every step) into dir, which must exist.
func WriteFindRun(dir string, r *FindRun) error {
	return writeFiles(dir, map[string]func(io.Writer) error{
		FindFile: func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		},
		MarkdownFile: func(w io.Writer) error { return WriteFindMarkdown(w, r) },
		HTMLFile:     func(w io.Writer) error { return WriteFindHTML(w, r) },
	})
}

// rateFound is a search's rate as the ranking shows it: "-" for none, a
// lower bound as ≥.
func rateFound(res loadgen.FindResult) string {
	switch {
	case res.Rate <= 0:
		return "-"
	case res.Outcome == loadgen.FindNoCeiling:
		return "≥ " + loadgen.FormatRate(res.Rate)
	}
	return loadgen.FormatRate(res.Rate)
}

// interval is a search's interval [highest met, lowest failed).
func interval(res loadgen.FindResult) string {
	lo, hi := "-", "-"
	if res.Met > 0 {
		lo = loadgen.FormatRate(res.Met)
	}
	switch {
	case res.Failed > 0:
		hi = loadgen.FormatRate(res.Failed)
	case res.Unconfirmed > 0:
		hi = loadgen.FormatRate(res.Unconfirmed) + " unconfirmed"
	}
	return fmt.Sprintf("[%s, %s)", lo, hi)
}

// stepVerdict says whether a step met the target, and why not.
func stepVerdict(s loadgen.FindStep) string {
	v := "not met: " + strings.Join(s.Failed, "; ")
	if s.Met {
		v = "met"
	}
	if s.Control {
		return "control, " + v
	}
	return v
}

// WriteFindMarkdown writes the ranking and every step as Markdown tables.
func WriteFindMarkdown(w io.Writer, r *FindRun) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# The highest rate that meets %s: %s\n\n", strings.Join(r.Criteria, " and "), r.Name)
	fmt.Fprintf(bw, "%s.\n\n", r.Workload)
	fmt.Fprintln(bw, "| rank | model | rate found (req/s) | interval [met, not met) | outcome | steps |")
	fmt.Fprintln(bw, "|---|---|---|---|---|---|")
	for i, s := range r.Searches {
		rank := fmt.Sprint(i + 1)
		if s.Result.Rate <= 0 {
			rank = "-"
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %d |\n", rank, s.Model, rateFound(s.Result), interval(s.Result), s.Result.Outcome, len(s.Result.Steps))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "\n> %s\n", n)
	}
	for _, s := range r.Searches {
		fmt.Fprintf(bw, "\n## %s\n\n%s.\n\n", s.Model, s.Result.Describe())
		fmt.Fprintln(bw, "| step | rate (req/s) | achieved | p50 | p99 | failed | unsent | verdict |")
		fmt.Fprintln(bw, "|---|---|---|---|---|---|---|---|")
		for _, st := range s.Result.Steps {
			fmt.Fprintf(bw, "| %d | %s | %.1f | %s | %s | %d | %d | %s |\n", st.N, loadgen.FormatRate(st.Rate), st.Achieved,
				loadgen.FormatDuration(st.P50Us), loadgen.FormatDuration(st.P99Us), st.Errors, st.Unsent, strings.ReplaceAll(stepVerdict(st), "|", `\|`))
		}
	}
	return bw.Flush()
}

type findRow struct {
	Rank, Model, Rate, Interval, Outcome, Describe string
	Steps                                          int
	None                                           bool
}

type findStepRow struct {
	N                                         int
	Rate, Achieved, P50, P99, Target, Verdict string
	Errors, Unsent, Unfinished, Late          int64
	Met                                       bool
	Dir                                       string
}

type findSearch struct {
	Model, Describe string
	Steps           []findStepRow
}

type findPage struct {
	Name, Criteria, Workload, TargetMetric string
	Notes                                  []string
	Rows                                   []findRow
	Plot                                   template.HTML
	Searches                               []findSearch
}

var findTmpl = template.Must(template.New("find").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>socklab: the highest rate that meets {{.Criteria}}: {{.Name}}</title>
<style>
` + pageCSS + `figure svg { width: 56em; }
figcaption { max-width: 56em; }
</style>
</head>
<body>
<h1>The highest rate that meets {{.Criteria}}</h1>
<p>{{.Name}}: {{.Workload}}.</p>
<table>
<tr><th>rank</th><th>model</th><th>rate found (req/s)</th><th>interval [met, not met)</th><th>outcome</th><th>steps</th></tr>
{{range .Rows}}<tr{{if .None}} class="fail"{{end}}><td class="n">{{.Rank}}</td><td>{{.Model}}</td><td class="n">{{.Rate}}</td><td class="n">{{.Interval}}</td><td title="{{.Describe}}">{{.Outcome}}</td><td class="n">{{.Steps}}</td></tr>
{{end}}</table>
<p>Each step is an open loop at a constant rate, its latency the corrected latency (from when each request was due, so a server that falls behind cannot hide). A step meets the target when every criterion holds and it served every request due (nothing failed, unsent or unfinished unless a criterion bounds it). The search doubles the rate from its start until a step fails, then bisects between the highest rate that met and the lowest that did not. A model that did not meet the target even at the start rate has no rank and comes last.</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{if .Plot}}<figure>
{{.Plot}}
<figcaption>{{if .TargetMetric}}{{.TargetMetric}}{{else}}p99{{end}} (corrected) of every step against its requested rate, one line per model; the dashed grey line is the target.</figcaption>
</figure>
{{end}}{{range .Searches}}<h2>{{.Model}}</h2>
<p>{{.Describe}}.</p>
<table>
<tr><th>step</th><th>rate (req/s)</th><th>achieved</th><th>p50</th><th>p99</th>{{if $.TargetMetric}}<th>{{$.TargetMetric}}</th>{{end}}<th>failed</th><th>unsent</th><th>unfinished</th><th>late</th><th>verdict</th><th>files</th></tr>
{{range .Steps}}<tr{{if not .Met}} class="fail"{{end}}><td class="n">{{.N}}</td><td class="n">{{.Rate}}</td><td class="n">{{.Achieved}}</td><td class="n">{{.P50}}</td><td class="n">{{.P99}}</td>{{if $.TargetMetric}}<td class="n">{{.Target}}</td>{{end}}<td class="n">{{.Errors}}</td><td class="n">{{.Unsent}}</td><td class="n">{{.Unfinished}}</td><td class="n">{{.Late}}</td><td class="{{if .Met}}ok{{else}}bad{{end}}">{{.Verdict}}</td><td>{{if .Dir}}<a href="{{.Dir}}/latency.hgrm">{{.Dir}}</a>{{end}}</td></tr>
{{end}}</table>
{{end}}</body>
</html>
`))

// WriteFindHTML writes a self-contained page: the ranking, the plot of the
// target's latency (its first latency criterion's metric, p99 if none)
// against rate with the target as a line, and each search's steps.
func WriteFindHTML(w io.Writer, r *FindRun) error {
	page := findPage{Name: r.Name, Criteria: strings.Join(r.Criteria, " and "), Workload: r.Workload, Notes: r.Notes}
	var series []Series
	var bound float64
	metric := "p99"
	for _, s := range r.Searches {
		if s.Result.TargetMetric != "" {
			metric, bound = s.Result.TargetMetric, s.Result.TargetBoundUs/1e3
			break
		}
	}
	if metric != "p99" {
		// p99 has its own column.
		page.TargetMetric = metric
	}
	models := make([]string, 0, len(r.Searches))
	for _, s := range r.Searches {
		models = append(models, s.Model)
	}
	slices.Sort(models)
	for i, s := range r.Searches {
		res := s.Result
		rank := fmt.Sprint(i + 1)
		if res.Rate <= 0 {
			rank = "-"
		}
		page.Rows = append(page.Rows, findRow{Rank: rank, Model: s.Model, Rate: rateFound(res), Interval: interval(res),
			Outcome: res.Outcome, Describe: res.Describe(), Steps: len(res.Steps), None: res.Rate <= 0})
		fs := findSearch{Model: s.Model, Describe: res.Describe()}
		var xy plotter.XYs
		for _, st := range res.Steps {
			row := findStepRow{N: st.N, Rate: loadgen.FormatRate(st.Rate), Achieved: fmt.Sprintf("%.1f", st.Achieved),
				P50: loadgen.FormatDuration(st.P50Us), P99: loadgen.FormatDuration(st.P99Us), Target: loadgen.FormatDuration(st.TargetUs),
				Errors: st.Errors, Unsent: st.Unsent, Unfinished: st.Unfinished, Late: st.Late, Met: st.Met, Verdict: stepVerdict(st)}
			if st.Dir != "" {
				row.Dir = filepath.ToSlash(filepath.Join(s.Dir, st.Dir))
			}
			fs.Steps = append(fs.Steps, row)
			y := st.P99Us
			if res.TargetMetric != "" {
				y = st.TargetUs
			}
			xy = append(xy, plotter.XY{X: st.Rate, Y: y / 1e3})
		}
		page.Searches = append(page.Searches, fs)
		slices.SortStableFunc(xy, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		name := fmt.Sprintf("%s: %s", s.Model, rateFound(res))
		series = append(series, Series{Name: name, XY: xy, Colour: slices.Index(models, s.Model), Faint: res.Rate <= 0})
	}
	title := fmt.Sprintf("%s against rate", metric)
	svg, err := svgPlot(plotSpec{title: title, xLabel: "requested rate (req/s)", yLabel: metric + " latency (ms)",
		x: linearFromZero, y: logAxis, hline: bound, hlineName: "target " + metric + " " + loadgen.FormatDuration(bound*1e3)}, series)
	if err != nil {
		return err
	}
	page.Plot = htmlSVG(svg)
	return findTmpl.Execute(w, page)
}
