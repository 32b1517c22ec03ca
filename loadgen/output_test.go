package loadgen

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestWriteText: the text summary's columns line up, no word is repeated in
// a row's name, a histogram with no values gets no percentile row, and the
// counts of every request due are there.
func TestWriteText(t *testing.T) {
	s := thresholdSummary()
	s.Uncorrected = LatencyOf(NewHistogram())
	s.Errors = map[string]int64{"timeout": 4}
	s.FirstErrors = map[string]string{"timeout": "read tcp: i/o timeout"}
	s.Thresholds = []ThresholdResult{{Expr: "p99<2ms", Value: "p99 89.06ms", Crossed: true}}
	var b bytes.Buffer
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"requested   100 req/s", "success     90.0%", "failed      4", "unsent      3", "unfinished  3", "late        7",
		"uncorrected (from sent, answered only): no values", "timeout  4  first: read tcp: i/o timeout", "p99<2ms  CROSSED  p99 89.06ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ToLower(out), "latency latency") {
		t.Errorf("a repeated word:\n%s", out)
	}
	var table []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  latency") || strings.HasPrefix(l, "  corrected") || strings.HasPrefix(l, "  uncorrected") {
			table = append(table, l)
		}
	}
	if len(table) != 2 {
		t.Fatalf("latency table rows %q, want the header and the corrected row only", table)
	}
	// Numbers flush right under their headings: the columns end at the
	// same places (the first, the names, aside).
	if a, b := fieldEnds(table[0]), fieldEnds(table[1]); len(b) < len(a) || fmt.Sprint(a[1:]) != fmt.Sprint(b[len(b)-len(a)+1:]) {
		t.Errorf("columns not aligned (%v, %v):\n%s\n%s", a, b, table[0], table[1])
	}
}

// fieldEnds returns where each space-separated field of l ends.
func fieldEnds(l string) []int {
	var ends []int
	for i := range len(l) {
		if l[i] != ' ' && (i+1 == len(l) || l[i+1] == ' ') {
			ends = append(ends, i)
		}
	}
	return ends
}
