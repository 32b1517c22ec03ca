package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/broken"
	"github.com/socklab/socklab/specs/suiterun"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func TestCheckUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "hello"}, "--addr"},
		{[]string{"--addr", "127.0.0.1:9"}, "--protocol: missing"},
		{[]string{"--addr", "127.0.0.1:9", "--protocol", "hello", "--label-filter", "a &&"}, "--label-filter"},
		{[]string{"--addr", "192.0.2.1:9", "--protocol", "hello"}, "not loopback"},
		{[]string{"--addr", "127.0.0.1:9", "--protocol", "hello", "stray"}, "unexpected argument"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"check"}, tc.args...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q does not name %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestCheckPassesAReferenceServer(t *testing.T) {
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	junit, report := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--addr", srv.Addrs()[0].String(), "--protocol", "hello",
		"--label-filter", "greeting || roundtrip", "--junit-report", junit, "--json-report", report}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"framing line (detected", "pass     greeting", "pass     roundtrip", "2 behaviours ran, 2 passed (0 non-strict), 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "close-on-eof") {
		t.Errorf("the label filter let close-on-eof through:\n%s", out)
	}
	v, err := suiterun.Read(report)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(v.Passed, " ") != "greeting roundtrip" || len(v.Failed) != 0 {
		t.Errorf("the JSON report says passed %v, failed %v", v.Passed, v.Failed)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(x, []byte(`<testsuite name="socklab conformance"`)) || !bytes.Contains(x, []byte("[greeting, hello]")) {
		t.Errorf("the JUnit report lacks the suite or the labels:\n%s", x)
	}
}

func TestCheckFailsABrokenServerExit1(t *testing.T) {
	var s broken.Server
	for _, b := range broken.All() {
		if b.Name == "no-eof-close" {
			s = b
		}
	}
	srv, err := s.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--addr", srv.Addrs()[0].String(), "--protocol", s.Protocol,
		"--framing", "line", "--timeout", "1s", "--label-filter", "close-on-eof || roundtrip"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"FAIL     close-on-eof", "pass     roundtrip", "Failures:", "usual cause:", "1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "behaviours failed: close-on-eof") {
		t.Errorf("stderr %q does not name the failure", stderr.String())
	}
}

func TestCheckUnreachableIsOneLineExit2(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--addr", addr, "--protocol", "echo"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "cannot reach the server") || strings.Contains(stdout.String(), "FAIL") {
		t.Errorf("want one line on stderr and no failures:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestCheckPrintsNotes(t *testing.T) {
	m, err := registry.Lookup("udp")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Network: targets.UDP, Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--addr", srv.Addrs()[0].String(), "--network", "udp", "--protocol", "echo",
		"--label-filter", "datagram-burst"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "pass     datagram-burst") || !strings.Contains(stdout.String(), "udp burst: ") {
		t.Errorf("the output lacks the burst's note:\n%s", stdout.String())
	}
}

// TestCheckSetupFailureIsOneLineExit2: fixtures that cannot be written are
// the run's failure, with its own error, not a behaviour's (issue 10).
func TestCheckSetupFailureIsOneLineExit2(t *testing.T) {
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "file", Options: protocol.Options{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A root under a regular file: no fixture can be written there, even
	// by root.
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--addr", srv.Addrs()[0].String(), "--protocol", "file", "--framing", "line",
		"--root", filepath.Join(file, "root")}, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	errLine := stderr.String()
	if !strings.Contains(errLine, "set-up failed") || !strings.Contains(errLine, "socklab-fixture.txt") || strings.Count(errLine, "\n") != 1 {
		t.Errorf("stderr %q: want one line naming the set-up and the fixture", errLine)
	}
	if out := stdout.String(); strings.Contains(out, "FAIL") || strings.Contains(out, "skipped") {
		t.Errorf("no behaviour may be failed or skipped for the set-up:\n%s", out)
	}
}
