package broken_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/socklab/socklab/specs/catalog"
	"github.com/socklab/socklab/specs/suiterun"
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

// suite is the conformance suite, compiled once.
var suite suiterun.Suite

func TestMain(m *testing.M) {
	code := m.Run()
	suite.Remove()
	os.Exit(code)
}

// TestBrokenServersFailTheirBehaviour runs the whole catalogue, in the
// suite's external mode, against each broken server: every behaviour of
// its defect must fail, and no other.
func TestBrokenServersFailTheirBehaviour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite once per broken server")
	}
	bin, err := suite.Binary("../../specs")
	if err != nil {
		t.Fatal(err)
	}
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
			args := suiterun.Args(srv.Addrs()[0].String(), s.Protocol, report,
				"-network", s.Network,
				"-max-concurrency", fmt.Sprint(s.Capacity),
				"-timeout", "1s",
				// Every broken server is line-framed by construction;
				// what is under test is its defect, not the probe.
				"-framing", "line",
			)
			if s.Protocol == "file" {
				args = append(args, "-root", root)
			}
			out, runErr := exec.Command(bin, args...).CombinedOutput()
			v, err := suiterun.Read(report)
			if err != nil {
				t.Fatalf("read the suite's report: %v (run error %v)\n%s", err, runErr, out)
			}
			want := slices.Sorted(slices.Values(s.Fails))
			if !slices.Equal(v.Failed, want) {
				t.Errorf("%s (%s): the suite failed %v, want exactly %v (%d specs ran)\n%s",
					s.Name, s.Defect, v.Failed, want, v.Ran, failures(out))
			}
		})
	}
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
