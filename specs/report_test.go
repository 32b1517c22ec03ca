package specs_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/socklab/socklab/specs/catalog"
)

// At the end of an external run, a table of behaviours: pass, fail or
// skipped, with the reason.
var _ = ReportAfterSuite("behaviour table", func(r Report) {
	if !external() {
		return
	}
	type row struct{ id, result, why string }
	var rows []row
	order := map[string]int{}
	for i, id := range catalog.IDs() {
		order[id] = i
	}
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		id := ""
		for _, l := range sr.Labels() {
			if catalog.Known(l) {
				id = l
			}
		}
		if id == "" {
			continue
		}
		res, why := "pass", ""
		switch {
		case sr.State == types.SpecStateSkipped:
			res, why = "skipped", sr.Failure.Message
		case sr.State.Is(types.SpecStateFailureStates):
			res, why = "FAIL", sr.Failure.Message
		case sr.State != types.SpecStatePassed:
			res = sr.State.String()
		}
		rows = append(rows, row{id, res, headline(why)})
	}
	sort.Slice(rows, func(i, j int) bool { return order[rows[i].id] < order[rows[j].id] })
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nsocklab conformance: %s %s at %s (%s)\n\n", *flagProtocol, *flagNetwork, *flagAddr, framingHeadline())
	fmt.Fprintln(w, "BEHAVIOUR\tRESULT\tREASON")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.id, r.result, r.why)
	}
	w.Flush()
})

// framingHeadline names the external server's framing and how the suite
// came to it: given with --framing, detected by the probe (with its
// evidence), or undecided.
func framingHeadline() string {
	if extUnframed {
		return extHow
	}
	return fmt.Sprintf("framing %s, %s", extFraming, headline(extHow))
}

// headline is a failure or skip message on one line, shortened.
func headline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
