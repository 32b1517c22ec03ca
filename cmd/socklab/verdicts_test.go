package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/socklab/socklab/specs/broken"
	"github.com/socklab/socklab/specs/suiterun"
)

// suite is the conformance suite, compiled once for this package's tests.
var suite suiterun.Suite

// tutorialVerdict is what the conformance suite, with its default framing
// (auto), must find against one tutorial server: the README states the
// same, in the block this test keeps.
type tutorialVerdict struct {
	script   string
	protocol string
	flags    []string // more suite flags; ROOT stands for the server's directory
	files    []string // files the server serves from its directory
	fails    []string // the behaviours that fail, sorted
	// mayFail are behaviours whose outcome depends on timing (a race in
	// the tutorial's code, a wait that a loaded machine stretches): they
	// may pass or fail, and no other may fail.
	mayFail []string
	why     string // the tutorial's bugs that make them fail
}

var tutorialVerdicts = []tutorialVerdict{
	{script: "seed000_http_server.py", protocol: "http"},
	{script: "seed001_hello_server.py", protocol: "hello", flags: []string{"-timeout", "3s"},
		fails: []string{"concurrent-clients", "connection-churn"},
		why:   "`listen(5)` drops the SYNs of clients that connect at once; `time.sleep(1)` per message"},
	{script: "seed003_banner_server.py", protocol: "banner",
		mayFail: []string{"accept-burst", "connection-churn", "cut-mid-stream", "reset-survival"},
		why:     "a client's reset that arrives before the banner makes `send()` raise in the accept loop: the server dies there, and the behaviours after it are not run; if it lives, `listen(5)` drops the SYNs of a burst"},
	{script: "seed003_banner_pool_server.py", protocol: "banner",
		fails: []string{"accept-burst"},
		why:   "`listen(5)`: of 1 000 clients that connect at once, the kernel drops the SYNs of most, and hundreds wait 3 s or more"},
	{script: "seed003_ack_pool_server.py", protocol: "ack",
		fails: []string{"concurrent-clients"},
		why:   "5 workers, each held by one connection for its life: it serves 5 clients at once, and the sixth waits (`--max-concurrency 5` declares it)"},
	{script: "seed003_asyncio_echo_server.py", protocol: "echo",
		fails:   []string{"close-on-eof", "fragmented-input", "large-payload", "partial-send", "pipelined-input", "roundtrip", "slow-client"},
		mayFail: []string{"accept-burst"},
		why:     "one `read(100)` per connection, never closed; bytes that are not UTF-8 kill the handler; asyncio's `backlog=100` takes a burst of 1 000 only while the loop accepts fast, and on a loaded machine some SYNs are dropped twice"},
	{script: "seed004_file_server.py", protocol: "file", flags: []string{"-framing", "raw", "-root", "ROOT"},
		files: []string{"get_file"},
		fails: []string{"abandoned-reply", "close-on-eof", "concurrent-clients", "connection-churn", "file-get", "file-get-missing", "file-put", "interrupted-put", "partial-send", "path-traversal", "reset-survival", "roundtrip", "slow-client"},
		why:   "it dispatches on the file name, not the command: only `get_file` and `put_file` are ever served, anything else is ignored unanswered"},
}

// frontEnds are the two ways to run the catalogue against one server, with
// a Ginkgo JSON report: socklab check, and the Ginkgo suite compiled once.
var frontEnds = []struct {
	name string
	run  func(t *testing.T, addr, protocol, report string, flags []string) *exec.Cmd
}{
	{"socklab check", func(t *testing.T, addr, protocol, report string, flags []string) *exec.Cmd {
		args := append([]string{"check", "--addr", addr, "--protocol", protocol, "--json-report", report}, flags...)
		cmd := exec.Command(socklabBinary(t), args...)
		// As on a machine without Go: no toolchain on the PATH, no source
		// tree around it.
		cmd.Dir, cmd.Env = t.TempDir(), []string{"PATH=/nonexistent", "HOME=/nonexistent"}
		return cmd
	}},
	{"the Ginkgo suite", func(t *testing.T, addr, protocol, report string, flags []string) *exec.Cmd {
		bin, err := suite.Binary("../../specs")
		if err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, suiterun.Args(addr, protocol, report, flags...)...)
	}},
}

// verdictsOf runs one front end against the server at addr and reads its
// verdicts.
func verdictsOf(t *testing.T, fe int, addr, protocol string, flags []string) (suiterun.Verdicts, []byte, error) {
	report := filepath.Join(t.TempDir(), "report.json")
	out, runErr := frontEnds[fe].run(t, addr, protocol, report, flags).CombinedOutput()
	v, err := suiterun.Read(report)
	if err != nil {
		return v, out, fmt.Errorf("%s: read its report: %w (run: %v)\n%s", frontEnds[fe].name, err, runErr, out)
	}
	return v, out, nil
}

// bothFrontEnds runs each front end at once, each against a server of its
// own that start returns (its address, flags and stop). check judges each
// front end's verdicts and returns the passes that the two must agree on.
func bothFrontEnds(t *testing.T, protocol string, start func(fe int) (addr string, flags []string, stop func()),
	check func(name string, v suiterun.Verdicts, out []byte) (passed []string)) {
	t.Helper()
	var passed [2][]string
	var wg sync.WaitGroup
	for fe := range frontEnds {
		addr, flags, stop := start(fe)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stop()
			v, out, err := verdictsOf(t, fe, addr, protocol, flags)
			if err != nil {
				t.Error(err)
				return
			}
			passed[fe] = check(frontEnds[fe].name, v, out)
		}()
	}
	wg.Wait()
	if !slices.Equal(passed[0], passed[1]) {
		t.Errorf("the front ends disagree: %s passed %v, %s passed %v", frontEnds[0].name, passed[0], frontEnds[1].name, passed[1])
	}
}

// TestVerdictsOnTutorialServers runs socklab check and the Ginkgo suite, each
// against an instance of its own of every tutorial server whose verdicts do
// not depend on timing, and requires of both exactly the failures the README
// states, and the same passes.
func TestVerdictsOnTutorialServers(t *testing.T) {
	py := python3(t)
	checkVerdictsInREADME(t)
	for _, tc := range tutorialVerdicts {
		t.Run(strings.TrimSuffix(tc.script, ".py"), func(t *testing.T) {
			t.Parallel()
			start := func(int) (string, []string, func()) {
				dir := t.TempDir()
				for _, f := range tc.files {
					writeRandomFile(t, filepath.Join(dir, f), 3000)
				}
				srv := startTutorialServer(t, py, tc.script, dir, 1)
				var flags []string
				for _, f := range tc.flags {
					flags = append(flags, strings.ReplaceAll(f, "ROOT", dir))
				}
				return srv.addrs[0], flags, srv.Kill
			}
			notTiming := func(ids []string) []string {
				return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(tc.mayFail, id) })
			}
			bothFrontEnds(t, tc.protocol, start, func(name string, v suiterun.Verdicts, out []byte) []string {
				var missing, extra []string
				for _, id := range tc.fails {
					if !slices.Contains(v.Failed, id) {
						missing = append(missing, id)
					}
				}
				for _, id := range notTiming(v.Failed) {
					if !slices.Contains(tc.fails, id) {
						extra = append(extra, id)
					}
				}
				if len(missing)+len(extra) > 0 {
					t.Errorf("%s failed %v: %v should have failed and %v should not (%d behaviours ran)\n%s",
						name, v.Failed, missing, extra, v.Ran, out)
				}
				return notTiming(v.Passed)
			})
		})
	}
}

// frontEndPaths are the broken servers the two front ends are run against:
// one for each way a verdict reaches a front end's report. That every
// broken server fails exactly its behaviours is the catalogue's business,
// proven once, by the library (TestBrokenServersFailTheirBehaviour in
// specs/broken); what is proven here is that both front ends report what
// the library finds, so running all of them a second and third time would
// only repeat that proof.
var frontEndPaths = []string{
	"send-ignored",       // several musts fail, the rest pass
	"no-exit",            // a behaviour not run because the one it depends on failed
	"reset-kills-server", // the server dies: the rest are not run, with the behaviour it died after
	"file-last-chunk",    // the file protocol: --root and its fixtures
	"http-wrong-body",    // HTTP
	"unbounded-replies",  // --pid: the server's memory measured
	"udp-wrong-peer",     // a datagram network
	"unixgram-reorder",   // a datagram network with a path
}

// TestVerdictsOnBrokenServers runs socklab check and the Ginkgo suite
// against the broken servers of frontEndPaths: both must fail exactly the
// behaviours of its defect and pass the same others.
func TestVerdictsOnBrokenServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the catalogue twice per broken server")
	}
	all := broken.All()
	for _, name := range frontEndPaths {
		i := slices.IndexFunc(all, func(s broken.Server) bool { return s.Name == name })
		if i < 0 {
			t.Errorf("no broken server is called %s", name)
			continue
		}
		s := all[i]
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			want := slices.Sorted(slices.Values(s.Fails))
			start := func(int) (string, []string, func()) {
				root := t.TempDir()
				srv, err := broken.Launch(s, root)
				if err != nil {
					t.Fatal(err)
				}
				flags := []string{"-network", s.Network, "-max-concurrency", fmt.Sprint(s.Capacity), "-timeout", "1s", "-framing", "line"}
				if s.Protocol == "file" {
					flags = append(flags, "-root", root)
				}
				if srv.PID != 0 {
					flags = append(flags, "-pid", fmt.Sprint(srv.PID))
				}
				return srv.Addr, flags, func() {
					if err := srv.Close(); err != nil {
						t.Error(err)
					}
				}
			}
			bothFrontEnds(t, s.Protocol, start, func(name string, v suiterun.Verdicts, out []byte) []string {
				if !slices.Equal(v.Failed, want) {
					t.Errorf("%s failed %v, want exactly %v (%s)\n%s", name, v.Failed, want, s.Defect, out)
				}
				return v.Passed
			})
		})
	}
}

// verdictsBlock renders the README's table of the verdicts.
func verdictsBlock() string {
	var b strings.Builder
	b.WriteString("<!-- verdicts: kept by TestVerdictsOnTutorialServers (cmd/socklab) -->\n")
	b.WriteString("| server | suite flags beyond `--addr` and `--protocol` | fails | may fail (timing) | because |\n|---|---|---|---|---|\n")
	list := func(ids []string) string {
		if len(ids) == 0 {
			return "-"
		}
		return "`" + strings.Join(ids, "`, `") + "`"
	}
	for _, tc := range tutorialVerdicts {
		flags, why := "-", tc.why
		if len(tc.flags) > 0 {
			flags = "`--" + strings.TrimPrefix(strings.Join(tc.flags, " "), "-") + "`"
			flags = strings.ReplaceAll(strings.ReplaceAll(flags, " -", " --"), "ROOT", "DIR")
		}
		if why == "" {
			why = "-"
		}
		fmt.Fprintf(&b, "| `%s` (`%s`) | %s | %s | %s | %s |\n", tc.script, tc.protocol, flags, list(tc.fails), list(tc.mayFail), why)
	}
	b.WriteString("<!-- end of verdicts -->\n")
	return b.String()
}

// checkVerdictsInREADME requires the README to state the verdicts this test
// checks.
func checkVerdictsInREADME(t *testing.T) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := verdictsBlock(); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not state the suite's verdicts on the tutorial servers; put this block in it:\n%s", want)
	}
}
