package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/socklab/socklab/loadgen"
)

// TestFindRank: models rank by the rate each sustained, highest first; a
// model that met no rate comes after every model that met one, however
// low, and the report gives it no rank.
func TestFindRank(t *testing.T) {
	r := &FindRun{Name: "t", Criteria: []string{"p99<1ms"}, Searches: []Search{
		{Model: "a", Result: loadgen.FindResult{Outcome: loadgen.FindStartFailed, Failed: 100}},
		{Model: "b", Result: loadgen.FindResult{Outcome: loadgen.FindFound, Rate: 100, Met: 100, Failed: 104}},
		{Model: "c", Result: loadgen.FindResult{Outcome: loadgen.FindNoCeiling, Rate: 51200, Met: 51200}},
		{Model: "d", Result: loadgen.FindResult{Outcome: loadgen.FindFound, Rate: 9000, Met: 9000, Failed: 9400,
			TargetMetric: "p99", TargetBoundUs: 1000, Steps: []loadgen.FindStep{{N: 1, Rate: 9000, P99Us: 800, TargetUs: 800, Met: true}}}},
		{Model: "e", Result: loadgen.FindResult{Outcome: loadgen.FindBudget, Rate: 800, Met: 800, Unconfirmed: 1600, Noisy: 1,
			Steps: []loadgen.FindStep{
				{N: 1, Rate: 800, Attempt: 1, Met: true},
				{N: 2, Rate: 1600, Attempt: 1, Failed: []string{"p99<1ms (p99 3ms)"}},
				{N: 3, Rate: 800, Control: true, Failed: []string{"p99<1ms (p99 2ms)"}},
			}}},
	}}
	r.Rank()
	var got []string
	for _, s := range r.Searches {
		got = append(got, s.Model)
	}
	if strings.Join(got, " ") != "c d e b a" {
		t.Errorf("ranked %v, want c d e b a", got)
	}
	var md, html bytes.Buffer
	if err := WriteFindMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 | c | ≥ 51200 | [51200, -) | no-ceiling |", "| 2 | d | 9000 | [9000, 9400) | found |", "| - | a | - | [-, 100) | start-failed |",
		"| 3 | e | 800 | [800, 1600 unconfirmed) | budget |", "control, not met: p99<1ms (p99 2ms)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md.String())
		}
	}
	if err := WriteFindHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<svg") || !strings.Contains(html.String(), "target p99 1.00ms") {
		t.Errorf("index.html has no plot with the target line")
	}
}
