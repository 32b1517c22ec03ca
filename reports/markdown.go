package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/socklab/socklab/loadgen"
)

// groups returns the run's scenarios split by group, in sorted order.
func groups(r *Run) [][]Scenario {
	var gs [][]Scenario
	for _, s := range r.Scenarios {
		if n := len(gs); n > 0 && gs[n-1][0].Group == s.Group {
			gs[n-1] = append(gs[n-1], s)
			continue
		}
		gs = append(gs, []Scenario{s})
	}
	return gs
}

func rateCell(s loadgen.Summary) string {
	if s.RateShape != "" {
		return fmt.Sprintf("%s (mean %g/s)", s.RateShape, s.RequestedRate)
	}
	if s.RequestedRate <= 0 {
		return "closed"
	}
	return fmt.Sprintf("%g/s", s.RequestedRate)
}

func errorsCell(s loadgen.Summary) string {
	if s.ErrorsTotal == 0 {
		return "0"
	}
	var parts []string
	for _, c := range loadgen.Classes() {
		if n := s.Errors[c.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(c.String(), "_", " ")))
		}
	}
	return fmt.Sprintf("%d (%s)", s.ErrorsTotal, strings.Join(parts, ", "))
}

// latencyCell prints one percentile of l, or "-" for a histogram with no
// values.
func latencyCell(l loadgen.Latency, us float64) string {
	if l.Count == 0 {
		return "-"
	}
	return loadgen.FormatDuration(us)
}

// problemsCell says whether a scenario served every request due, and what
// it left if not.
func problemsCell(s Scenario) string {
	if p := s.Summary.Problems(); len(p) > 0 {
		return "✗ " + strings.Join(p, ", ")
	}
	return "✓"
}

// crossedCells are the thresholds a scenario crossed, with their values.
func crossedCells(s Scenario) []string {
	var out []string
	for _, c := range loadgen.Crossed(s.Summary.Thresholds) {
		out = append(out, fmt.Sprintf("%s (%s)", c.Expr, c.Value))
	}
	return out
}

// statusCell is problemsCell and the crossed thresholds, for Markdown.
func statusCell(s Scenario) string {
	out := problemsCell(s)
	for _, c := range crossedCells(s) {
		out += "; crossed " + c
	}
	return out
}

// WriteMarkdown writes a summary of r: the summary table of the HTML report
// (fastest models among those that served every request, and the models
// that failed), then one table per group with the model, connections, rate
// requested and achieved, success ratio, corrected latency percentiles and
// what was not served.
func WriteMarkdown(w io.Writer, r *Run) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# socklab load report: %s\n\n", r.Name)
	fmt.Fprintln(bw, "| workload | fastest at p50 | fastest at p99 | did not serve every request (share answered) |")
	fmt.Fprintln(bw, "|---|---|---|---|")
	for _, wl := range workloads(r) {
		p50, p99 := wl.FastestP50, wl.FastestP99
		if wl.ServedNothing {
			p50, p99 = "none served every request", "-"
		}
		failed := "-"
		if len(wl.Failed) > 0 {
			failed = "✗ " + strings.Join(wl.Failed, "; ✗ ")
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", wl.Name, p50, p99, failed)
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "The fastest models are chosen among those that served every request due. Latency is measured from when")
	fmt.Fprintln(bw, "each request was due (in a closed loop, when it was sent); a timeout counts at the time it took, and a request")
	fmt.Fprintln(bw, "left unsent or unfinished at the end at its age then, a lower bound.")
	if len(r.Thresholds) > 0 {
		fmt.Fprintf(bw, "\nThresholds checked on every scenario: %s.\n", strings.Join(r.Thresholds, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "\n> %s\n", n)
	}
	for _, g := range groups(r) {
		fmt.Fprintf(bw, "\n## %s\n\n", g[0].Group)
		fmt.Fprintln(bw, "| model | connections | requested | achieved (req/s) | success | p50 | p90 | p99 | p99.9 | max | failed | unsent | unfinished | late | served every request |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
		for _, s := range g {
			m := s.Summary
			l := m.Corrected
			fmt.Fprintf(bw, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d | %s |\n",
				s.Model, m.Connections, rateCell(m), m.AchievedRate, loadgen.FormatRatio(m.SuccessRatio),
				latencyCell(l, l.P50Us), latencyCell(l, l.P90Us), latencyCell(l, l.P99Us),
				latencyCell(l, l.P999Us), latencyCell(l, l.MaxUs), errorsCell(m), m.Unsent, m.Unfinished, m.Late, statusCell(s))
		}
		if rows := connRows(g); rows != nil {
			fmt.Fprintf(bw, "\nConnections (short connections: a new one per %s):\n\n", perConnText(g))
			fmt.Fprintf(bw, "| %s |\n", strings.Join(connHeader, " | "))
			fmt.Fprintf(bw, "|---|%s\n", strings.Repeat("---:|", len(connHeader)-1))
			for _, c := range rows {
				fmt.Fprintf(bw, "| %s |\n", strings.Join(c.cells(), " | "))
			}
		}
	}
	return bw.Flush()
}
