// Package suiterun runs the conformance suite, compiled once as a test
// binary, against one external server and reads its verdicts from Ginkgo's
// JSON report. The proof of the catalogue (targets/broken) and the verdicts
// on the tutorials' servers (cmd/socklab) both run the suite this way, so
// that it is built and read in one place.
package suiterun

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/socklab/socklab/specs/catalog"
)

// Suite is the compiled suite. Its zero value builds it on first use.
type Suite struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary builds the suite in specsDir (the path of the specs package) once
// and returns the test binary's path.
func (s *Suite) Binary(specsDir string) (string, error) {
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "socklab-suite-")
		if err != nil {
			s.err = err
			return
		}
		s.dir = dir
		s.bin = filepath.Join(dir, "specs.test")
		out, err := exec.Command("go", "test", "-c", "-o", s.bin, specsDir).CombinedOutput()
		if err != nil {
			s.err = fmt.Errorf("go test -c %s: %w\n%s", specsDir, err, out)
		}
	})
	return s.bin, s.err
}

// Remove deletes the binary.
func (s *Suite) Remove() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// Args returns the arguments that run the whole catalogue against the
// server at addr and write Ginkgo's JSON report to report; more are the
// suite's own flags (-framing, -root, -timeout …).
func Args(addr, protocol, report string, more ...string) []string {
	return append([]string{
		"-test.run=^TestSpecs$",
		"-addr", addr,
		"-protocol", protocol,
		"-ginkgo.json-report", report,
		"-ginkgo.no-color",
	}, more...)
}

// Verdicts is what one run of the suite found.
type Verdicts struct {
	// Failed is the sorted ids of the failed behaviours; a failure outside
	// a behaviour (a BeforeAll) is named by its node type in parentheses.
	Failed []string
	// Passed is the sorted ids of the behaviours that passed.
	Passed []string
	// Ran is the number of specs that ran (not skipped).
	Ran int
}

// Read reads a Ginkgo JSON report of the suite, or of socklab check (which
// writes the same format).
func Read(report string) (Verdicts, error) {
	raw, err := os.ReadFile(report)
	if err != nil {
		return Verdicts{}, err
	}
	var reports []types.Report
	if err := json.Unmarshal(raw, &reports); err != nil {
		return Verdicts{}, fmt.Errorf("%s: %w", report, err)
	}
	failed, passed := map[string]bool{}, map[string]bool{}
	var v Verdicts
	for _, r := range reports {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt && sr.State.Is(types.SpecStateFailureStates) {
				failed["("+sr.LeafNodeType.String()+")"] = true
			}
		}
		for _, res := range catalog.ResultsFromReport(r) {
			switch res.State {
			case catalog.Failed:
				failed[res.Behaviour.ID] = true
			case catalog.Passed:
				passed[res.Behaviour.ID] = true
			}
			if res.State != catalog.Skipped {
				v.Ran++
			}
		}
	}
	v.Failed = slices.Sorted(maps.Keys(failed))
	v.Passed = slices.Sorted(maps.Keys(passed))
	return v, nil
}
