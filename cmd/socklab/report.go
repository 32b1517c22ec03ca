package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/reports"
)

func init() {
	register(command{name: "report", summary: "render or merge load results", run: runReport})
}

func runReport(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "render" && args[0] != "merge") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, "usage: socklab report render|merge [flags] DIR...\n\nexample:\n  socklab report render --out /tmp/cmp reports/latest /tmp/run2\n  socklab report merge --out /tmp/all /tmp/host1 /tmp/host2")
			return flag.ErrHelp
		}
		return usageError("want a subcommand: render or merge, like socklab report render reports/latest")
	}
	sub := args[0]
	var fs *flag.FlagSet
	if sub == "render" {
		fs = newFlagSet("report render", "[--out DIR] DIR...",
			"socklab report render --out /tmp/cmp reports/latest /tmp/run2", stderr)
	} else {
		fs = newFlagSet("report merge", "--out DIR DIR...",
			"socklab report merge --out /tmp/all /tmp/host1 /tmp/host2", stderr)
	}
	out := fs.String("out", "", "output directory (render: default the first DIR)")
	var thresholds thresholdFlag
	if sub == "merge" {
		fs.Var(&thresholds, "threshold", strings.Replace(thresholdUsage, "fail the run (exit 3)", "fail the merge (exit 3)", 1)+"; evaluated on the merged histograms")
	}
	dirs, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usageError("no result directories: give one or more, like socklab report %s reports/latest", sub)
	}
	if sub == "render" {
		if *out == "" {
			*out = dirs[0]
		}
		if err := reports.CheckOutDir(*out); err != nil {
			return usageError("--out: %v", err)
		}
		r, err := reports.Render(*out, dirs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s in %s (%d scenarios)\n", reports.HTMLFile, reports.MarkdownFile, *out, len(r.Scenarios))
		return nil
	}
	if *out == "" {
		return usageError("merge wants --out DIR for the merged result")
	}
	if err := reports.CheckOutDir(*out); err != nil {
		return usageError("--out: %v", err)
	}
	s, err := reports.MergeDirs(*out, dirs, thresholds...)
	if errors.Is(err, reports.ErrNotMergeable) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %d results into %s\n", len(dirs), *out)
	if len(s.Shards) > 0 {
		fmt.Fprintf(stdout, "%d shards of one load (configuration %.12s):\n", len(s.Shards), s.ConfigHash)
		if err := reports.WriteShards(stdout, s.Shards); err != nil {
			return err
		}
	}
	if err := loadgen.WriteText(stdout, s); err != nil {
		return err
	}
	// A failed shard is the merge's failure (exit 1), as failed requests
	// are a run's; then the thresholds (exit 3), as for one run.
	if failed := reports.FailedShards(s); len(failed) > 0 {
		var ss []string
		for _, r := range failed {
			ss = append(ss, fmt.Sprintf("%d (%s: %s)", r.Index, r.Host, strings.Join(r.Problems, ", ")))
		}
		return &exitStatus{code: exitFailed, msg: "shard " + strings.Join(ss, "; ") + " failed: its requests are in the merge, but the load did not run as asked"}
	}
	return verdict(s, true)
}
