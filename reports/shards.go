package reports

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/socklab/socklab/loadgen"
)

// ErrShardMissing is wrapped by the error of a merge of a sharded load
// given without all its shards: part of a load is not the load.
var ErrShardMissing = errors.New("shard missing")

// checkOneLoad checks that the runs ss (read from names) are one load:
// the same configuration hash (or, for summaries without one, the same
// load by loadDiff) and, if they are shards, every shard of it once. When
// they ran is not compared: a shard that would start late refuses to run
// (--start-at), and runs started by hand are the user's to align.
func checkOneLoad(ss []loadgen.Summary, names []string) error {
	first := ss[0]
	sharded := first.Shard != nil
	for i, s := range ss[1:] {
		name := names[i+1]
		if (s.Shard != nil) != sharded {
			a, b := name, names[0]
			if sharded {
				a, b = b, a
			}
			return fmt.Errorf("%w: %s is a shard (--shard) and %s is not: a sharded load merges its shards only", ErrNotMergeable, a, b)
		}
		if s.ConfigHash == "" || first.ConfigHash == "" {
			if diff := loadDiff(first, s); diff != "" {
				return fmt.Errorf("%w: %s is not the same load as %s: %s", ErrNotMergeable, name, names[0], diff)
			}
			continue
		}
		if s.ConfigHash != first.ConfigHash {
			why := "a flag that defines the load differs (duration, request count, warm-up, timeouts, request options or shards)"
			if sharded && s.Shard.Count != first.Shard.Count {
				why = fmt.Sprintf("it is a shard of %d, not of %d", s.Shard.Count, first.Shard.Count)
			} else if diff := loadDiff(first, s); diff != "" && !sharded {
				why = diff
			} else if diff := shardDiff(first, s); diff != "" {
				why = diff
			}
			return fmt.Errorf("%w: %s is not the same load as %s (configuration hash %.12s, not %.12s): %s",
				ErrNotMergeable, name, names[0], s.ConfigHash, first.ConfigHash, why)
		}
	}
	if !sharded {
		return nil
	}
	n := first.Shard.Count
	at := map[int]string{}
	for i, s := range ss {
		if j := s.Shard.Index; j < 0 || j >= n {
			return fmt.Errorf("%w: %s is shard %d of %d", ErrNotMergeable, names[i], j, n)
		}
		if prev, dup := at[s.Shard.Index]; dup {
			return fmt.Errorf("%w: %s and %s are both shard %d of %d: one shard counted twice", ErrNotMergeable, prev, names[i], s.Shard.Index, n)
		}
		at[s.Shard.Index] = names[i]
	}
	var missing []string
	for j := range n {
		if _, ok := at[j]; !ok {
			missing = append(missing, strconv.Itoa(j))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: shard %s of %d not given: a merge of part of a load is not the load", ErrShardMissing, strings.Join(missing, ", "), n)
	}
	return nil
}

// shardDiff says how two shards' loads differ in what their summaries show
// beside their shares (connections and rate are each shard's own).
func shardDiff(a, b loadgen.Summary) string {
	loop := func(rate float64) float64 { return math.Min(rate, 1) } // open (1) or closed (0)
	a.Connections, b.Connections = 0, 0
	a.RequestedRate, b.RequestedRate = loop(a.RequestedRate), loop(b.RequestedRate)
	return loadDiff(a, b)
}

// shardRow is a shard's line in the merge of a sharded load.
func shardRow(s loadgen.Summary) loadgen.ShardRow {
	return loadgen.ShardRow{
		Index: s.Shard.Index, Host: s.Shard.Host, Tag: s.Tag,
		Connections: s.Connections, RequestedRate: s.RequestedRate, AchievedRate: s.AchievedRate,
		Requests: s.Requests, Late: s.Late, Failed: s.ErrorsTotal, Unsent: s.Unsent, Unfinished: s.Unfinished,
		StartOffsetUs: s.StartOffsetUs, Problems: s.Problems(),
	}
}

// FailedShards returns the shards of a merged sharded load that failed:
// a request failed, or was left unsent or unfinished, or none was answered.
func FailedShards(s loadgen.Summary) []loadgen.ShardRow {
	var f []loadgen.ShardRow
	for _, r := range s.Shards {
		if len(r.Problems) > 0 {
			f = append(f, r)
		}
	}
	return f
}

// WriteShards writes a table of a merged sharded load's shards: each
// one's requested and achieved rate, answered, late, failed, unsent and
// unfinished requests, and how late it started.
func WriteShards(w io.Writer, rows []loadgen.ShardRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shard\thost\tconns\trequested/s\tachieved/s\tanswered\tlate\tfailed\tunsent\tunfinished\tstart offset\t")
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b loadgen.ShardRow) int { return a.Index - b.Index })
	for _, r := range rows {
		offset := "-"
		if r.StartOffsetUs != 0 {
			offset = loadgen.FormatDuration(r.StartOffsetUs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Index, r.Host, r.Connections, r.RequestedRate, r.AchievedRate, r.Requests, r.Late, r.Failed, r.Unsent, r.Unfinished, offset)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.Problems) > 0 {
			if _, err := fmt.Fprintf(w, "shard %d (%s) failed: %s\n", r.Index, r.Host, strings.Join(r.Problems, ", ")); err != nil {
				return err
			}
		}
	}
	return nil
}
