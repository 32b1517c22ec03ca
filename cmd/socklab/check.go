package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/socklab/socklab/specs/catalog"
)

func init() {
	register(command{name: "check", summary: "check a server against the behaviour catalogue (the conformance suite, no Go needed)", run: runCheck})
}

// errChecksFailed is returned when a behaviour failed: socklab exits 1.
var errChecksFailed = errors.New("behaviours failed")

// runCheck runs the catalogue against one server: the conformance suite's
// behaviours, flags, table and reports, without Ginkgo's runner or a Go
// toolchain.
func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "--addr ADDR --protocol P [flags]",
		"socklab check --addr 127.0.0.1:9000 --protocol hello\n"+
			"  socklab check --addr 127.0.0.1:9000 --protocol file --framing raw --root ./files   # a tutorial's file server\n"+
			"  socklab check --addr /tmp/echo.sock --network unix --protocol echo --label-filter 'close-on-eof || partial-send'",
		stderr)
	var f catalog.Flags
	f.Register(fs)
	labels := fs.String("label-filter", "", "run only the behaviours whose labels (their id and the protocol) match this Ginkgo label filter, e.g. 'close-on-eof || slow-client'")
	junit := fs.String("junit-report", "", "also write a JUnit XML report to this file")
	jsonReport := fs.String("json-report", "", "also write a Ginkgo JSON report to this file")
	verbose := fs.Bool("v", false, "print every failure's whole message as it happens")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return usageError("%v", err)
	}
	keep := func(catalog.Behaviour) bool { return true }
	if *labels != "" {
		lf, err := types.ParseLabelFilter(*labels)
		if err != nil {
			return usageError("--label-filter: %v", err)
		}
		keep = func(b catalog.Behaviour) bool { return lf([]string{b.ID, f.Protocol}) }
	}

	start := time.Now()
	d := f.Resolve(stdout)
	tg := f.Target(d.Framing)
	defer tg.Close()
	if err := tg.Reach(); err != nil {
		// Nothing to judge: one line, not a failure per behaviour.
		return usageError("cannot reach the server: %v", err)
	}
	if err := tg.Setup(); err != nil {
		// The run's own failure, not a behaviour's: one line, exit 2.
		return usageError("%v", err)
	}
	results := catalog.Check(tg, keep, func(r catalog.Result) {
		if r.State == catalog.Skipped {
			return // the table gives every skip with its reason
		}
		state, _ := r.Verdict()
		fmt.Fprintf(stdout, "%-8s %s (%s)\n", state, r.Behaviour.ID, r.End.Sub(r.Start).Round(time.Millisecond))
		for _, n := range r.Notes {
			if n.Name != catalog.NonStrict { // the table gives those
				fmt.Fprintf(stdout, "         %s: %s\n", n.Name, n.Value)
			}
		}
		if *verbose && r.State == catalog.Failed {
			fmt.Fprintf(stdout, "%s\n\n", indent(r.Message))
		}
	})
	end := time.Now()

	failed := catalog.FailedIDs(results)
	if len(failed) > 0 && !*verbose {
		fmt.Fprintf(stdout, "\nFailures:\n")
		for _, r := range results {
			if r.State == catalog.Failed {
				fmt.Fprintf(stdout, "\n%s: %s\n%s\n", r.Behaviour.ID, r.Behaviour.Requirement, indent(r.Message))
			}
		}
	}
	if err := catalog.WriteTable(stdout, f.Headline(d), results); err != nil {
		return err
	}
	rep := catalog.GinkgoReport("socklab conformance", tg, results, start, end)
	if *junit != "" {
		if err := reporters.GenerateJUnitReport(rep, *junit); err != nil {
			return fmt.Errorf("--junit-report: %w", err)
		}
	}
	if *jsonReport != "" {
		if err := reporters.GenerateJSONReport(rep, *jsonReport); err != nil {
			return fmt.Errorf("--json-report: %w", err)
		}
	}
	ran, nonStrict := 0, 0
	for _, r := range results {
		if r.State != catalog.Skipped {
			ran++
		}
		if r.State == catalog.Passed && len(r.NonStrict()) > 0 {
			nonStrict++
		}
	}
	fmt.Fprintf(stdout, "\n%d behaviours ran, %d passed (%d non-strict), %d failed, %d skipped or not run (%s)\n",
		ran, ran-len(failed), nonStrict, len(failed), len(results)-ran, end.Sub(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errChecksFailed, strings.Join(failed, ", "))
	}
	return nil
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
