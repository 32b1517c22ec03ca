package specs_test

import (
	"os"

	. "github.com/onsi/ginkgo/v2"

	"github.com/socklab/socklab/specs/catalog"
)

// At the end of an external run, the catalogue's table of behaviours: pass,
// fail or skipped, with the reason.
var _ = ReportAfterSuite("behaviour table", func(r Report) {
	if !external() {
		return
	}
	_ = catalog.WriteTable(os.Stdout, ext.Headline(extDecision), catalog.ResultsFromReport(r))
})
