package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/socklab/socklab/targets/registry"
)

func TestModelsListsEveryModel(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"models"}, &out, &errOut); code != 0 {
		t.Fatalf("models: exit %d; stderr: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if !strings.HasPrefix(lines[0], "MODEL") {
		t.Fatalf("first line %q, want the header", lines[0])
	}
	ms := registry.Models()
	if len(lines)-1 != len(ms) {
		t.Fatalf("%d rows, want one per model (%d):\n%s", len(lines)-1, len(ms), out.String())
	}
	for i, m := range ms {
		if f := strings.Fields(lines[i+1]); f[0] != m.Name {
			t.Errorf("row %d is %q, want model %s (registry order)", i+1, f[0], m.Name)
		}
	}
	// The same output every time: a diff shows a real change.
	var again bytes.Buffer
	run([]string{"models"}, &again, &errOut)
	if again.String() != out.String() {
		t.Error("models output differs between two runs")
	}
}

func TestCapacityText(t *testing.T) {
	want := map[string]string{
		"iterative": "1",
		"thread":    "cap 1000 (--max-conns)",
		"goroutine": "unbounded",
		"pool":      "workers (5)",
		"fork":      "cap 64 (--max-conns)",
		"udp":       "-",
		"unixgram":  "-",
	}
	for name, w := range want {
		m, err := registry.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := capacityText(m); got != w {
			t.Errorf("capacity of %s: %q, want %q", name, got, w)
		}
	}
}

func TestModelsRowNamesDatagramProtocolsOnly(t *testing.T) {
	m, err := registry.Lookup("udp")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(modelProtocols(m), ","); got != "echo" {
		t.Fatalf("udp serves %q, want echo only", got)
	}
}

// TestModelsStateTimeouts: the timeouts every stream model keeps are in
// socklab models, on each stream model's row, and in the note a bench
// report carries beside the models' capacities.
func TestModelsStateTimeouts(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"models"}, &out, &errOut); code != 0 {
		t.Fatalf("models: exit %d; stderr: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if !strings.Contains(lines[0], "TIMEOUTS") {
		t.Fatalf("header %q lacks TIMEOUTS", lines[0])
	}
	for _, line := range lines[1:] {
		name := strings.Fields(line)[0]
		m, err := registry.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		want := "request 10s, idle 60s"
		if m.Serves("udp") && !m.Serves("tcp") || m.Serves("unixgram") && !m.Serves("unix") {
			continue // datagram servers: no connections to time out
		}
		if !strings.Contains(line, want) {
			t.Errorf("row of %s lacks %q: %s", name, want, line)
		}
	}
	for _, want := range []string{"10s", "60s", "--request-timeout", "--idle-timeout"} {
		if !strings.Contains(limitsNote(), want) {
			t.Errorf("the reports' note lacks %q: %s", want, limitsNote())
		}
	}
}
