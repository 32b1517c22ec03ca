package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// TestSetupFailureIsNoBehaviours: fixtures that cannot be written are the
// target's set-up failing, once, with its own error; a behaviour run anyway
// fails with that error, and none is blamed for it or skipped over it
// (issue 10).
func TestSetupFailureIsNoBehaviours(t *testing.T) {
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "file", Options: protocol.Options{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tg := &Target{Name: "file", Network: "tcp", Addr: srv.Addrs()[0].String(), Protocol: "file",
		Timeout: time.Second, Root: filepath.Join(file, "root"), Options: protocol.Options{Framing: protocol.Line}}
	defer tg.Close()
	err = tg.Setup()
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), fixtureName) {
		t.Fatalf("Setup: %v, want ErrSetup naming %s", err, fixtureName)
	}
	if again := tg.Setup(); again != err {
		t.Errorf("a second Setup returned %v, want the first error again", again)
	}
	for _, r := range Check(tg, nil, nil) {
		if r.Behaviour.NotFor("file", Stream) != "" {
			continue
		}
		if r.State != Failed || !strings.HasPrefix(r.Message, "not run: set-up failed") {
			t.Errorf("%s: %s %q, want a failure with the set-up's error", r.Behaviour.ID, r.State, r.Message)
		}
	}
}
