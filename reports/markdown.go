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

// WriteMarkdown writes a summary of r: one table per group with the model,
// protocol, connections, rate, throughput, corrected latency percentiles
// (equal to the uncorrected ones in a closed loop) and errors.
func WriteMarkdown(w io.Writer, r *Run) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# socklab load report: %s\n\n", r.Name)
	fmt.Fprintln(bw, "Latency is measured from when each request was due (corrected for coordinated omission);")
	fmt.Fprintln(bw, "in a closed loop that is when it was sent. Errors are failed requests by class, never latencies.")
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "\n> %s\n", n)
	}
	for _, g := range groups(r) {
		fmt.Fprintf(bw, "\n## %s\n\n", g[0].Group)
		fmt.Fprintln(bw, "| model | protocol | connections | rate | throughput (req/s) | p50 | p90 | p99 | p99.9 | max | errors | unfinished |")
		fmt.Fprintln(bw, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
		for _, s := range g {
			m := s.Summary
			l := m.Corrected
			fmt.Fprintf(bw, "| %s | %s | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %d |\n",
				s.Model, m.Protocol, m.Connections, rateCell(m), m.AchievedRate,
				loadgen.FormatDuration(l.P50Us), loadgen.FormatDuration(l.P90Us), loadgen.FormatDuration(l.P99Us),
				loadgen.FormatDuration(l.P999Us), loadgen.FormatDuration(l.MaxUs), errorsCell(m), m.Unfinished)
		}
	}
	return bw.Flush()
}
