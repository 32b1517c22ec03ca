package catalog

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func TestEveryBehaviourHasARun(t *testing.T) {
	for _, b := range All() {
		if b.run == nil {
			t.Errorf("behaviour %s: no check registered (behave)", b.ID)
		}
		if b.Requirement == "" || b.Area == "" || (b.Kind != Stream && b.Kind != Datagram) {
			t.Errorf("behaviour %s: incomplete entry %+v", b.ID, b)
		}
	}
}

// fake is a behaviour for the runner's tests, outside the catalogue.
func fake(run func(s *spec)) Behaviour {
	return Behaviour{ID: "greeting", Kind: Stream, Requirement: "a test behaviour", run: run}
}

// testTarget is a reference echo server, closed with the test.
func testTarget(t *testing.T) *Target {
	t.Helper()
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tg := &Target{Name: "t", Network: "tcp", Addr: srv.Addrs()[0].String(), Protocol: "echo",
		Timeout: time.Second, Options: protocol.Options{Framing: protocol.Line}}
	t.Cleanup(tg.Close)
	return tg
}

func TestRunOneStates(t *testing.T) {
	var order []string
	cases := []struct {
		name  string
		run   func(s *spec)
		state State
		msg   string
	}{
		{"pass", func(s *spec) {}, Passed, ""},
		{"fail ends the behaviour", func(s *spec) {
			s.failf("a", "b", "c")
			order = append(order, "after fail")
		}, Failed, "expected: a\nactual:   b\nusual cause: c"},
		{"skip ends the behaviour", func(s *spec) {
			s.skip("not today")
			order = append(order, "after skip")
		}, Skipped, "not today"},
		{"first ending wins", func(s *spec) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.fatal("from a goroutine")
			}()
			<-done
			s.skip("later")
		}, Failed, "from a goroutine"},
		{"panic fails", func(s *spec) { panic("boom") }, Failed, "panic: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			order = nil
			r := runOne(fake(tc.run), testTarget(t))
			if r.State != tc.state || !strings.HasPrefix(r.Message, tc.msg) {
				t.Errorf("got %s %q, want %s %q", r.State, r.Message, tc.state, tc.msg)
			}
			if len(order) > 0 {
				t.Errorf("the behaviour went on after it ended: %v", order)
			}
			if r.End.Before(r.Start) {
				t.Errorf("end %v before start %v", r.End, r.Start)
			}
		})
	}
}

func TestCleanupRunsLastFirstHoweverItEnds(t *testing.T) {
	for _, end := range []string{"pass", "fail", "skip", "panic"} {
		t.Run(end, func(t *testing.T) {
			var got []int
			runOne(fake(func(s *spec) {
				s.cleanup(func() { got = append(got, 1) })
				s.cleanup(func() { got = append(got, 2) })
				switch end {
				case "fail":
					s.fatal("x")
				case "skip":
					s.skip("x")
				case "panic":
					panic("x")
				}
			}), testTarget(t))
			if len(got) != 2 || got[0] != 2 || got[1] != 1 {
				t.Errorf("cleanups ran as %v, want [2 1]", got)
			}
		})
	}
}

func TestRunRefusesAutoFramingAndSkipsOtherProtocols(t *testing.T) {
	tg := testTarget(t)
	tg.Options.Framing = protocol.Auto
	if r := runOne(fake(func(s *spec) {}), tg); r.State != Failed || !strings.Contains(r.Message, "framing auto") {
		t.Errorf("auto framing: got %s %q, want a failure naming it", r.State, r.Message)
	}
	tg = testTarget(t)
	b := fake(func(s *spec) { s.fatal("ran") })
	b.Protocols = []string{"hello"}
	if r := runOne(b, tg); r.State != Skipped || !strings.Contains(r.Message, "this server speaks echo") {
		t.Errorf("other protocol: got %s %q, want a skip with the reason", r.State, r.Message)
	}
	b.Protocols, b.Kind = nil, Datagram
	if r := runOne(b, tg); r.State != Skipped || !strings.Contains(r.Message, "datagram behaviour") {
		t.Errorf("other kind: got %s %q, want a skip with the reason", r.State, r.Message)
	}
}

func TestStopSkipsTheBehavioursAfter(t *testing.T) {
	tg := testTarget(t)
	first := runOne(fake(func(s *spec) { s.stop("the fixtures are missing", "e", "a", "c") }), tg)
	second := runOne(fake(func(s *spec) {}), tg)
	if first.State != Failed {
		t.Errorf("the stopping behaviour: %s, want FAIL", first.State)
	}
	if second.State != Skipped || !strings.Contains(second.Message, "not run: the fixtures are missing (in greeting)") {
		t.Errorf("the behaviour after: %s %q, want skipped naming the cause", second.State, second.Message)
	}
}

func TestReportRoundTrip(t *testing.T) {
	start := time.Now()
	results := []Result{
		{Behaviour: Get("roundtrip"), State: Passed, Start: start, End: start.Add(time.Millisecond)},
		{Behaviour: Get("close-on-eof"), State: Failed, Message: "expected: x", Start: start, End: start},
		{Behaviour: Get("datagram-burst"), State: Skipped, Message: "not a datagram server", Start: start, End: start,
			Notes: []Note{{"udp burst", "998 of 1000"}}},
	}
	rep := GinkgoReport("socklab conformance", testTarget(t), results, start, start.Add(time.Second))
	if rep.SuiteSucceeded {
		t.Error("a report with a failure says the suite succeeded")
	}
	back := ResultsFromReport(rep)
	if len(back) != len(results) {
		t.Fatalf("%d results back, want %d", len(back), len(results))
	}
	for i := range results {
		w, g := results[i], back[i]
		if g.Behaviour.ID != w.Behaviour.ID || g.State != w.State || g.Message != w.Message || len(g.Notes) != len(w.Notes) {
			t.Errorf("result %d: got %+v, want %+v", i, g, w)
		}
	}
	if got := FailedIDs(back); len(got) != 1 || got[0] != "close-on-eof" {
		t.Errorf("FailedIDs = %v", got)
	}
}

func TestWriteTableInCatalogueOrder(t *testing.T) {
	var buf bytes.Buffer
	err := WriteTable(&buf, "head", []Result{
		{Behaviour: Get("connection-churn"), State: Passed},
		{Behaviour: Get("greeting"), State: Failed, Message: "expected: a\nactual:   b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	g, c := strings.Index(out, "greeting"), strings.Index(out, "connection-churn")
	if g < 0 || c < 0 || g > c {
		t.Errorf("want greeting before connection-churn:\n%s", out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "greeting FAIL expected: a actual: b connection-churn") {
		t.Errorf("the reason is not on one line:\n%s", out)
	}
}

func TestFlagsValidate(t *testing.T) {
	cases := []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello"}, ""},
		{[]string{"-protocol", "hello"}, "--addr"},
		{[]string{"-addr", "127.0.0.1:9"}, "--protocol: missing"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "gopher"}, "--protocol"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello", "-network", "udp"}, "does not run over"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello", "-network", "sctp"}, "--network"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello", "-framing", "lines"}, "--framing"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello", "-timeout", "0s"}, "--timeout"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "hello", "-max-concurrency", "-1"}, "--max-concurrency"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "ack", "-ack-reply", "{msg} and {msg}"}, "--ack-reply"},
		{[]string{"-addr", "192.0.2.1:9", "-protocol", "hello"}, "--addr"},
		{[]string{"-addr", "[::1]:9", "-protocol", "hello"}, ""},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "echo", "-pid", fmt.Sprint(os.Getpid())}, ""},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "echo", "-pid", "-3"}, "--pid"},
		{[]string{"-addr", "127.0.0.1:9", "-protocol", "echo", "-pid", "999999999"}, "--pid"},
	}
	for _, tc := range cases {
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		err := f.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v, want valid", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

func TestLivenessStopsTheBehavioursAfterADeadServer(t *testing.T) {
	m, _ := registry.Lookup("goroutine")
	srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tg := &Target{Name: "t", Network: "tcp", Addr: srv.Addrs()[0].String(), Protocol: "echo",
		Timeout: time.Second, Options: protocol.Options{Framing: protocol.Line}}
	defer tg.Close()
	before := runOne(fake(func(s *spec) {}), tg)
	killer := runOne(fake(func(s *spec) { srv.Close() }), tg)
	after := runOne(fake(func(s *spec) { s.fatal("ran") }), tg)
	if before.State != Passed {
		t.Errorf("a behaviour against a live server: %s %q", before.State, before.Message)
	}
	if killer.State != Failed || !strings.Contains(killer.Message, "a fresh client served after greeting") {
		t.Errorf("the behaviour after which the server died: %s %q, want a failure saying so", killer.State, killer.Message)
	}
	if after.State != Skipped || after.Message != "not run: the server stopped answering after greeting" {
		t.Errorf("the behaviour after: %s %q, want not run, naming greeting", after.State, after.Message)
	}
}

func TestUnreachableIsOneError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	tg := &Target{Name: "t", Network: "tcp", Addr: addr, Protocol: "echo",
		Timeout: time.Second, Options: protocol.Options{Framing: protocol.Line}}
	if err := tg.Reach(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Reach = %v, want connection refused", err)
	}
	first := runOne(fake(func(s *spec) {}), tg)
	second := runOne(fake(func(s *spec) {}), tg)
	if first.State != Failed || !strings.Contains(first.Message, "a server at "+addr) {
		t.Errorf("first: %s %q", first.State, first.Message)
	}
	if second.State != Skipped || !strings.Contains(second.Message, "not run: the server could not be reached") {
		t.Errorf("second: %s %q", second.State, second.Message)
	}
}

func TestShouldIsNonStrictUnlessStrict(t *testing.T) {
	for _, strict := range []bool{false, true} {
		tg := testTarget(t)
		tg.Strict = strict
		went := false
		r := runOne(fake(func(s *spec) {
			s.shouldf("an error line", "a silent close", "c")
			went = true
		}), tg)
		state, reason := r.Verdict()
		switch {
		case !strict && (r.State != Passed || state != "pass (non-strict)" || !strings.Contains(reason, "a silent close") || !went):
			t.Errorf("not strict: %s %q (%s), went on %v; want a non-strict pass that goes on", state, reason, r.State, went)
		case strict && (r.State != Failed || went):
			t.Errorf("strict: %s, went on %v; want a failure that ends it", r.State, went)
		}
	}
}

func TestDependsOn(t *testing.T) {
	tg := testTarget(t)
	var got []string
	probe := fake(func(s *spec) {
		ok, why := s.dependsOn("exit-command")
		got = append(got, fmt.Sprintf("%v %s", ok, why))
	})
	exit := func(run func(s *spec)) Behaviour {
		b := fake(run)
		b.ID = "exit-command"
		return b
	}
	runOne(probe, tg)
	runOne(exit(func(s *spec) { s.fatal("no exit") }), tg)
	runOne(probe, tg)
	runOne(exit(func(s *spec) {}), tg)
	runOne(probe, tg)
	want := []string{"false depends on exit-command, which did not run", "false depends on exit-command, which failed", "true "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("dependsOn said %q, want %q", got, want)
	}
}
