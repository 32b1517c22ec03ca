package catalog

import (
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Both front ends write Ginkgo's report formats (JSON, JUnit), so that a
// report of socklab check reads like one of the suite's, in the same tools.

// GinkgoReport is results as a Ginkgo report of a suite called description:
// one It per behaviour, labelled with its id and protocol, under the
// containers of the Ginkgo suite (conformance, target, tg.Name, catalogue).
func GinkgoReport(description string, tg *Target, results []Result, start, end time.Time) types.Report {
	rep := types.Report{
		SuiteDescription: description,
		SuiteSucceeded:   true,
		StartTime:        start,
		EndTime:          end,
		RunTime:          end.Sub(start),
		PreRunStats:      types.PreRunStats{TotalSpecs: len(results), SpecsThatWillRun: len(results)},
	}
	for _, r := range results {
		sr := types.SpecReport{
			ContainerHierarchyTexts:  []string{"conformance", "target", tg.Name, "catalogue"},
			ContainerHierarchyLabels: [][]string{{}, {}, {}, {}},
			LeafNodeType:             types.NodeTypeIt,
			LeafNodeText:             r.Behaviour.Requirement,
			LeafNodeLabels:           []string{r.Behaviour.ID, tg.Protocol},
			StartTime:                r.Start,
			EndTime:                  r.End,
			RunTime:                  r.End.Sub(r.Start),
			NumAttempts:              1,
			ParallelProcess:          1,
		}
		switch r.State {
		case Passed:
			sr.State = types.SpecStatePassed
		case Skipped:
			sr.State = types.SpecStateSkipped
			sr.Failure = types.Failure{Message: r.Message, FailureNodeType: types.NodeTypeIt}
		default:
			sr.State = types.SpecStateFailed
			sr.Failure = types.Failure{Message: r.Message, FailureNodeType: types.NodeTypeIt}
			rep.SuiteSucceeded = false
		}
		for _, n := range r.Notes {
			sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{
				Name: n.Name, Time: r.End, Visibility: types.ReportEntryVisibilityAlways,
				Value: types.WrapEntryValue(n.Value),
			})
		}
		rep.SpecReports = append(rep.SpecReports, sr)
	}
	return rep
}

// ResultsFromReport reads the behaviours' results out of a Ginkgo report of
// the suite (or of GinkgoReport): each It labelled with a behaviour id.
func ResultsFromReport(r types.Report) []Result {
	var results []Result
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		b, ok := behaviourOf(sr.Labels())
		if !ok {
			continue
		}
		res := Result{Behaviour: b, State: Passed, Start: sr.StartTime, End: sr.EndTime}
		switch {
		case sr.State == types.SpecStateSkipped:
			res.State, res.Message = Skipped, sr.Failure.Message
		case sr.State.Is(types.SpecStateFailureStates):
			res.State, res.Message = Failed, sr.Failure.Message
		case sr.State != types.SpecStatePassed:
			res.State, res.Message = Skipped, sr.State.String()
		}
		for _, e := range sr.ReportEntries {
			res.Notes = append(res.Notes, Note{e.Name, e.StringRepresentation()})
		}
		results = append(results, res)
	}
	return results
}

// behaviourOf finds the behaviour among a spec's labels.
func behaviourOf(labels []string) (Behaviour, bool) {
	for _, l := range labels {
		for _, b := range behaviours {
			if b.ID == l {
				return b, true
			}
		}
	}
	return Behaviour{}, false
}
