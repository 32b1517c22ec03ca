// Package reports writes and reads the results of load runs and renders
// them: a Markdown summary with one table per scenario, and a self-contained
// HTML page whose plots (latency by percentile, HDR style; throughput and
// p99 against concurrency) are drawn with gonum.org/v1/plot, a maintained
// plotting library, and inlined as SVG. It also merges the results of
// several load generator processes without loss, since HDR histograms add.
package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/socklab/socklab/loadgen"
)

// Files of a run directory.
const (
	ResultsFile  = "results.json"
	MarkdownFile = "summary.md"
	HTMLFile     = "index.html"
)

// Run is a set of scenarios measured together (a bench run), the content
// of results.json.
type Run struct {
	Name  string   `json:"name"`
	Notes []string `json:"notes,omitempty"`
	// Thresholds are the threshold expressions every scenario was checked
	// against; each scenario's summary says which it crossed.
	Thresholds []string   `json:"thresholds,omitempty"`
	Scenarios  []Scenario `json:"scenarios"`
	// Base is the directory the scenarios' Dir are relative to ("" for
	// the working directory), where the report finds their latency.hlog.
	Base string `json:"-"`
}

// Scenario is one load against one target.
type Scenario struct {
	// Group names the workload (e.g. "echo 64B"); within a group
	// scenarios differ by model, connections and rate.
	Group string `json:"group"`
	// Model is the target's concurrency model (or "external").
	Model string `json:"model"`
	// Dir is the scenario's directory, relative to the run's, holding its
	// latency.hgrm, latency.hlog and summary.json.
	Dir     string          `json:"dir,omitempty"`
	Summary loadgen.Summary `json:"summary"`
}

// Open reports whether the scenario is an open loop: a rate, constant or
// shaped, was requested.
func (s Scenario) Open() bool { return s.Summary.RequestedRate > 0 || s.Summary.RateShape != "" }

// Failed reports whether the scenario did not serve every request due (see
// loadgen.Summary.Problems).
func (s Scenario) Failed() bool { return !s.Summary.Served() }

// Workload names what a scenario measured, its model aside: the group, the
// connections and the loop. The models of one workload are compared.
func (s Scenario) Workload() string {
	w := s.Group + ", " + connections(s.Summary.Connections)
	switch {
	case s.Summary.RateShape != "":
		w += fmt.Sprintf(", open loop at rate %s (mean %g req/s)", s.Summary.RateShape, s.Summary.RequestedRate)
	case s.Open():
		w += fmt.Sprintf(", open loop at %g req/s", s.Summary.RequestedRate)
	}
	return w
}

// Sort orders scenarios by group, then closed loops before open ones, then
// connections, model and rate, so tables and plots are stable.
func (r *Run) Sort() {
	slices.SortStableFunc(r.Scenarios, func(a, b Scenario) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		if a.Open() != b.Open() {
			if a.Open() {
				return 1
			}
			return -1
		}
		if c := a.Summary.Connections - b.Summary.Connections; c != 0 {
			return c
		}
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		switch {
		case a.Summary.RequestedRate < b.Summary.RequestedRate:
			return -1
		case a.Summary.RequestedRate > b.Summary.RequestedRate:
			return 1
		}
		return 0
	})
}

// ErrNoResults is returned for a directory with neither results.json nor
// summary.json.
var ErrNoResults = errors.New("no results.json or summary.json")

// ReadRun parses a results.json.
func ReadRun(rd io.Reader) (*Run, error) {
	var r Run
	dec := json.NewDecoder(io.LimitReader(rd, 256<<20))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	for i, s := range r.Scenarios {
		if s.Summary.Version != loadgen.SummaryVersion {
			return nil, fmt.Errorf("read results: scenario %d: version %d: %w", i, s.Summary.Version, loadgen.ErrSummaryVersion)
		}
		for _, l := range s.Summary.Latencies() {
			if _, err := l.Decode(); err != nil {
				return nil, fmt.Errorf("read results: scenario %d: %w", i, err)
			}
		}
		if s.Summary.Errors == nil {
			r.Scenarios[i].Summary.Errors = map[string]int64{}
		}
	}
	return &r, nil
}

// WriteRun writes r as indented JSON.
func WriteRun(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Load reads the run in dir: its results.json, or else its summary.json as
// a run of one scenario named after the directory.
func Load(dir string) (*Run, error) {
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if err == nil {
		defer f.Close()
		r, err := ReadRun(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		return r, nil
	}
	f, err = os.Open(filepath.Join(dir, loadgen.SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, ErrNoResults)
	}
	defer f.Close()
	s, err := loadgen.ReadSummary(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	name := filepath.Base(filepath.Clean(dir))
	model := s.Tag
	if model == "" {
		model = name
	}
	return &Run{Name: name, Scenarios: []Scenario{{Group: groupOf(s), Model: model, Dir: ".", Summary: s}}}, nil
}

// connections says "1 connection" or "N connections".
func connections(n int) string {
	if n == 1 {
		return "1 connection"
	}
	return fmt.Sprintf("%d connections", n)
}

// thresholdsOf returns the threshold expressions the scenarios were checked
// against, in first-seen order.
func thresholdsOf(ss []Scenario) []string {
	var out []string
	for _, s := range ss {
		for _, t := range s.Summary.Thresholds {
			if !slices.Contains(out, t.Expr) {
				out = append(out, t.Expr)
			}
		}
	}
	return out
}

// groupOf names a lone summary's workload.
func groupOf(s loadgen.Summary) string {
	g := s.Protocol
	if s.Size > 0 {
		g += fmt.Sprintf(" %dB", s.Size)
	}
	if s.Reconnect {
		g += " short connections"
	}
	return g
}

// LoadAll reads several runs and joins their scenarios into one run.
func LoadAll(dirs []string) (*Run, error) {
	all := &Run{}
	var names []string
	for _, d := range dirs {
		r, err := Load(d)
		if err != nil {
			return nil, err
		}
		names = append(names, r.Name)
		all.Notes = append(all.Notes, r.Notes...)
		for _, s := range r.Scenarios {
			if s.Dir != "" {
				s.Dir = filepath.Join(d, s.Dir)
			}
			all.Scenarios = append(all.Scenarios, s)
		}
	}
	all.Name = strings.Join(names, " + ")
	all.Thresholds = thresholdsOf(all.Scenarios)
	all.Sort()
	return all, nil
}
