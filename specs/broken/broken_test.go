package broken_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/broken"
	"github.com/socklab/socklab/specs/catalog"
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

// TestBrokenServersFailTheirBehaviour runs the whole catalogue against each
// broken server, as socklab check does: every behaviour of its defect must
// fail, and no other.
func TestMain(m *testing.M) {
	broken.ServeIfChild()
	os.Exit(m.Run())
}

func TestBrokenServersFailTheirBehaviour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the catalogue once per broken server")
	}
	for _, s := range broken.All() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			srv, err := broken.Launch(s, root)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := srv.Close(); err != nil {
					t.Error(err)
				}
			}()
			tg := &catalog.Target{
				Name:     s.Name,
				Network:  s.Network,
				Addr:     srv.Addr,
				Protocol: s.Protocol,
				Capacity: s.Capacity,
				Timeout:  time.Second,
				// Every broken server is line-framed by construction;
				// what is under test is its defect, not the probe.
				Options:  protocol.Options{Framing: protocol.Line},
				External: true,
			}
			if s.Protocol == "file" {
				tg.Root = root
			}
			tg.PID = srv.PID
			defer tg.Close()
			results := catalog.Check(tg, nil, nil)
			failed := slices.Sorted(slices.Values(catalog.FailedIDs(results)))
			want := slices.Sorted(slices.Values(s.Fails))
			if !slices.Equal(failed, want) {
				var msgs []string
				for _, r := range results {
					if r.State == catalog.Failed {
						msgs = append(msgs, r.Behaviour.ID+": "+r.Message)
					}
				}
				t.Errorf("%s (%s): the catalogue failed %v, want exactly %v\n%s",
					s.Name, s.Defect, failed, want, strings.Join(msgs, "\n\n"))
			}
		})
	}
}
