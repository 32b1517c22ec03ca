package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
		mayFail: []string{"connection-churn", "reset-survival"},
		why:     "a client's reset that arrives before the banner makes `send()` raise in the accept loop: the server dies, and every later behaviour finds nobody listening"},
	{script: "seed003_banner_pool_server.py", protocol: "banner"},
	{script: "seed003_ack_pool_server.py", protocol: "ack",
		mayFail: []string{"concurrent-clients"},
		why:     "5 workers, each held by one connection for its life: clients past the fifth wait for one to end, past the timeout on a loaded machine (`--max-concurrency 5` declares it)"},
	{script: "seed003_asyncio_echo_server.py", protocol: "echo",
		fails: []string{"close-on-eof", "concurrent-clients", "fragmented-input", "large-payload", "partial-send", "pipelined-input", "roundtrip", "slow-client"},
		why:   "one `read(100)` per connection, never closed; bytes that are not UTF-8 kill the handler"},
	{script: "seed004_file_server.py", protocol: "file", flags: []string{"-framing", "raw", "-root", "ROOT"},
		files: []string{"get_file"},
		fails: []string{"abandoned-reply", "close-on-eof", "concurrent-clients", "connection-churn", "file-get", "file-get-missing", "file-put", "interrupted-put", "partial-send", "path-traversal", "reset-survival", "roundtrip", "slow-client"},
		why:   "it dispatches on the file name, not the command: only `get_file` and `put_file` are ever served, anything else is ignored unanswered"},
}

// TestSuiteVerdictsOnTutorialServers runs the conformance suite against
// tutorial servers whose verdicts do not depend on timing, and requires
// exactly the failures the README states.
func TestSuiteVerdictsOnTutorialServers(t *testing.T) {
	py := python3(t)
	bin, err := suite.Binary("../../specs")
	if err != nil {
		t.Fatal(err)
	}
	checkVerdictsInREADME(t)
	for _, tc := range tutorialVerdicts {
		t.Run(strings.TrimSuffix(tc.script, ".py"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tc.files {
				writeRandomFile(t, filepath.Join(dir, f), 3000)
			}
			srv := startTutorialServer(t, py, tc.script, dir, 1)
			report := filepath.Join(t.TempDir(), "report.json")
			var more []string
			for _, f := range tc.flags {
				more = append(more, strings.ReplaceAll(f, "ROOT", dir))
			}
			cmd := exec.Command(bin, suiterun.Args(srv.addrs[0], tc.protocol, report, more...)...)
			out, runErr := cmd.CombinedOutput()
			v, err := suiterun.Read(report)
			if err != nil {
				t.Fatalf("read the suite's report: %v (run: %v)\n%s", err, runErr, out)
			}
			var missing, extra []string
			for _, id := range tc.fails {
				if !slices.Contains(v.Failed, id) {
					missing = append(missing, id)
				}
			}
			for _, id := range v.Failed {
				if !slices.Contains(tc.fails, id) && !slices.Contains(tc.mayFail, id) {
					extra = append(extra, id)
				}
			}
			if len(missing)+len(extra) > 0 {
				t.Errorf("the suite failed %v: %v should have failed and %v should not (%d specs ran)\n%s", v.Failed, missing, extra, v.Ran, out)
			}
		})
	}
}

// verdictsBlock renders the README's table of the verdicts.
func verdictsBlock() string {
	var b strings.Builder
	b.WriteString("<!-- verdicts: kept by TestSuiteVerdictsOnTutorialServers (cmd/socklab) -->\n")
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
