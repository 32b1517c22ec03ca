package broken_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/socklab/socklab/specs/catalog"
	"github.com/socklab/socklab/targets/broken"
)

// TestCatalogueCovered fails for a behaviour id without a broken server
// that proves it, and for a broken server that names an unknown id.
func TestCatalogueCovered(t *testing.T) {
	proven := map[string][]string{}
	for _, s := range broken.All() {
		if len(s.Fails) == 0 {
			t.Errorf("%s: no behaviour to fail", s.Name)
		}
		for _, id := range s.Fails {
			if !catalog.Known(id) {
				t.Errorf("%s: fails %q, which the catalogue does not have", s.Name, id)
			}
			proven[id] = append(proven[id], s.Name)
		}
	}
	for _, id := range catalog.IDs() {
		if len(proven[id]) == 0 {
			t.Errorf("behaviour %s: no broken server proves it", id)
		}
	}
}

var (
	buildOnce sync.Once
	suiteBin  string
	buildErr  error
)

// specsBinary compiles the conformance suite once.
func specsBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "socklab-broken-")
		if err != nil {
			buildErr = err
			return
		}
		suiteBin = filepath.Join(dir, "specs.test")
		out, err := exec.Command("go", "test", "-c", "-o", suiteBin, "../../specs").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go test -c ./specs: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return suiteBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if suiteBin != "" {
		os.RemoveAll(filepath.Dir(suiteBin))
	}
	os.Exit(code)
}

// TestBrokenServersFailTheirBehaviour runs the whole catalogue, in the
// suite's external mode, against each broken server: every behaviour of
// its defect must fail, and no other.
func TestBrokenServersFailTheirBehaviour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite once per broken server")
	}
	bin := specsBinary(t)
	for _, s := range broken.All() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			srv, err := s.Start(root)
			if err != nil {
				t.Fatalf("start %s: %v", s.Name, err)
			}
			defer srv.Close()
			report := filepath.Join(t.TempDir(), "report.json")
			args := []string{
				"-test.run=^TestSpecs$",
				"-addr", srv.Addrs()[0].String(),
				"-protocol", s.Protocol,
				"-network", s.Network,
				"-max-concurrency", fmt.Sprint(s.Capacity),
				"-timeout", "1s",
				// Every broken server is line-framed by construction;
				// what is under test is its defect, not the probe.
				"-framing", "line",
				"-ginkgo.json-report", report,
				"-ginkgo.no-color",
			}
			if s.Protocol == "file" {
				args = append(args, "-root", root)
			}
			out, runErr := exec.Command(bin, args...).CombinedOutput()
			failed, ran, err := failedBehaviours(report)
			if err != nil {
				t.Fatalf("read the suite's report: %v (run error %v)\n%s", err, runErr, out)
			}
			want := slices.Sorted(slices.Values(s.Fails))
			if !slices.Equal(failed, want) {
				t.Errorf("%s (%s): the suite failed %v, want exactly %v (%d specs ran)\n%s",
					s.Name, s.Defect, failed, want, ran, failures(out))
			}
		})
	}
}

// failedBehaviours reads a Ginkgo JSON report and returns the sorted ids of
// the failed behaviours and the number of specs that ran.
func failedBehaviours(path string) ([]string, int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var reports []types.Report
	if err := json.Unmarshal(raw, &reports); err != nil {
		return nil, 0, err
	}
	set := map[string]bool{}
	ran := 0
	for _, r := range reports {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				if sr.State.Is(types.SpecStateFailureStates) {
					set["("+sr.LeafNodeType.String()+")"] = true
				}
				continue
			}
			if sr.State != types.SpecStateSkipped {
				ran++
			}
			if !sr.State.Is(types.SpecStateFailureStates) {
				continue
			}
			for _, l := range sr.Labels() {
				if catalog.Known(l) {
					set[l] = true
				}
			}
		}
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, ran, nil
}

// failures keeps the failure lines of the suite's output for the message.
func failures(out []byte) string {
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "expected:") || strings.Contains(line, "actual:") || strings.Contains(line, "[FAIL]") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
