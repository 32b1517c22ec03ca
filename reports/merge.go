package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/socklab/socklab/loadgen"
)

// LogEntry is one interval histogram of an HdrHistogram log, with its tag
// and absolute start and end times in milliseconds since the epoch.
type LogEntry struct {
	Tag            string
	StartMs, EndMs int64
	Histogram      *hdr.Histogram
	// Requested is what an open loop requested of the interval, from the
	// log's comment before its histograms (see loadgen.FormatRequested),
	// on the interval's first entry (its corrected histogram); nil if none.
	Requested *loadgen.Requested
}

// maxLogEntries bounds what ReadHlog accepts: a day of one-second intervals
// of three tags.
const maxLogEntries = 3 * 86400

// ReadHlog reads an interval log with hdrhistogram-go's log reader and
// returns its entries in order, each with what an open loop requested of
// it if the log says (see loadgen.FormatRequested).
func ReadHlog(rd io.Reader) (entries []LogEntry, err error) {
	defer func() {
		// The log reader decodes untrusted input; a malformed payload must
		// be an error, never a crash of the report.
		if p := recover(); p != nil {
			entries, err = nil, fmt.Errorf("read hlog: malformed log: %v", p)
		}
	}()
	const limit = 256 << 20
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read hlog: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("read hlog: larger than %d bytes", limit)
	}
	requested := requestedOf(data)
	lr := hdr.NewHistogramLogReader(bytes.NewReader(data))
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("read hlog: %w", err)
		}
		if h == nil {
			for i := range min(len(entries), len(requested)) {
				entries[i].Requested = requested[i]
			}
			return entries, nil
		}
		if len(entries) == maxLogEntries {
			return nil, fmt.Errorf("read hlog: more than %d intervals", maxLogEntries)
		}
		entries = append(entries, LogEntry{Tag: h.Tag(), StartMs: h.StartTimeMs(), EndMs: h.EndTimeMs(), Histogram: h})
	}
}

// histogramLine matches an interval histogram's line (its tag taken off), as
// hdrhistogram-go's log reader does.
var histogramLine = regexp.MustCompile(`([\d\.]*),([\d\.]*),([\d\.]*),(.*)`)

// requestedOf returns, for each interval histogram line of the log data in
// order, what the comment just before it says was requested (nil where
// there is none).
func requestedOf(data []byte) []*loadgen.Requested {
	var out []*loadgen.Requested
	var pending *loadgen.Requested
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "#") {
			if q, ok := loadgen.ParseRequested(line); ok {
				pending = &q
			}
			continue
		}
		if strings.HasPrefix(line, "Tag=") {
			_, line, _ = strings.Cut(line, ",")
		}
		if histogramLine.MatchString(line) {
			out = append(out, pending)
			pending = nil
		}
	}
	return out
}

// MergeLogs merges the interval logs of several processes that ran at the
// same time: entries of the same tag whose start falls in the same interval
// (interval length ivMs, counted from the earliest start) are added. Every
// count of every entry is kept.
func MergeLogs(logs [][]LogEntry, ivMs int64) []LogEntry {
	if ivMs <= 0 {
		ivMs = 1000
	}
	var first int64 = math.MaxInt64
	for _, l := range logs {
		for _, e := range l {
			first = min(first, e.StartMs)
		}
	}
	type key struct {
		idx int64
		tag string
	}
	merged := map[key]*LogEntry{}
	type pkey struct {
		key
		log int
	}
	type part struct {
		due int64
		s   float64 // seconds the requests were due in
	}
	parts := map[pkey]part{}
	for li, l := range logs {
		for _, e := range l {
			k := key{(e.StartMs - first) / ivMs, e.Tag}
			m := merged[k]
			if m == nil {
				h := loadgen.NewHistogram()
				h.SetTag(e.Tag)
				start := first + k.idx*ivMs
				m = &LogEntry{Tag: e.Tag, StartMs: start, EndMs: start + ivMs, Histogram: h}
				merged[k] = m
			}
			m.Histogram.Merge(e.Histogram)
			if e.Requested != nil {
				if m.Requested == nil {
					m.Requested = &loadgen.Requested{}
				}
				m.Requested.Due += e.Requested.Due
				p := parts[pkey{k, li}]
				p.due += e.Requested.Due
				if e.Requested.Rate > 0 {
					p.s += float64(e.Requested.Due) / e.Requested.Rate
				}
				parts[pkey{k, li}] = p
			}
		}
	}
	// The processes' shares of one schedule add up: the requested rate of
	// a merged interval is the sum of each log's, its requests due in it
	// over the time they were due in.
	for pk, p := range parts {
		if p.s > 0 {
			merged[pk.key].Requested.Rate += float64(p.due) / p.s
		}
	}
	keys := make([]key, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.idx != b.idx {
			return int(a.idx - b.idx)
		}
		return strings.Compare(a.tag, b.tag)
	})
	out := make([]LogEntry, 0, len(keys))
	for _, k := range keys {
		m := merged[k]
		m.Histogram.SetStartTimeMs(m.StartMs)
		m.Histogram.SetEndTimeMs(m.EndMs)
		out = append(out, *m)
	}
	return out
}

// WriteLog writes entries as an interval log, format 1.3, relative to the
// earliest entry's whole second.
func WriteLog(w io.Writer, entries []LogEntry) error {
	lw := hdr.NewHistogramLogWriter(w)
	var start int64
	if len(entries) > 0 {
		start = entries[0].StartMs
		for _, e := range entries {
			start = min(start, e.StartMs)
		}
	}
	base := start - start%1000
	lw.SetBaseTime(base)
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(start) },
		func() error { return lw.OutputBaseTime(base) },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if e.Requested != nil {
			if _, err := io.WriteString(w, loadgen.FormatRequested(*e.Requested)); err != nil {
				return err
			}
		}
		if err := lw.OutputIntervalHistogram(e.Histogram); err != nil {
			return err
		}
	}
	return nil
}

// MergeSummaries merges the summaries of load generator processes that ran
// one load at the same time (see checkOneLoad): counts add, histograms
// merge without loss, percentiles are recomputed from the merged
// histograms, and the rate is the sum of the processes' (requests over the
// longest duration). The shards of a sharded load must all be there; the
// merged summary lists each one's figures (Shards).
func MergeSummaries(ss []loadgen.Summary) (loadgen.Summary, error) {
	if len(ss) == 0 {
		return loadgen.Summary{}, errors.New("merge summaries: nothing to merge")
	}
	names := make([]string, len(ss))
	for i := range ss {
		names[i] = fmt.Sprintf("summary %d", i)
	}
	return mergeSummaries(ss, names)
}

func mergeSummaries(ss []loadgen.Summary, names []string) (loadgen.Summary, error) {
	if err := checkOneLoad(ss, names); err != nil {
		return loadgen.Summary{}, err
	}
	out := ss[0]
	out.Errors = map[string]int64{}
	out.FirstErrors = nil
	out.Thresholds = nil
	out.Shard, out.Shards = nil, nil
	out.StartOffsetUs = 0
	out.Connections, out.Requests, out.ErrorsTotal, out.Unfinished, out.Late = 0, 0, 0, 0, 0
	out.Unsent, out.Connecting, out.OldestUs = 0, 0, 0
	out.BytesSent, out.BytesReceived, out.RequestedRate, out.MaxLateUs, out.DurationS = 0, 0, 0, 0, 0
	out.ConnectRate, out.Connects = 0, 0
	corr, unc, conn := loadgen.NewHistogram(), loadgen.NewHistogram(), loadgen.NewHistogram()
	fb, fbUnc := loadgen.NewHistogram(), loadgen.NewHistogram()
	var tags []string
	for i, s := range ss {
		if s.Shard != nil {
			out.Shards = append(out.Shards, shardRow(s))
			out.StartOffsetUs = max(out.StartOffsetUs, s.StartOffsetUs)
		}
		out.Connections += s.Connections
		out.Requests += s.Requests
		out.ErrorsTotal += s.ErrorsTotal
		out.Unfinished += s.Unfinished
		out.Unsent += s.Unsent
		out.Connecting += s.Connecting
		out.OldestUs = max(out.OldestUs, s.OldestUs)
		out.Late += s.Late
		out.BytesSent += s.BytesSent
		out.BytesReceived += s.BytesReceived
		out.RequestedRate += s.RequestedRate
		out.ConnectRate += s.ConnectRate
		out.Connects += s.Connects
		out.MaxLateUs = max(out.MaxLateUs, s.MaxLateUs)
		out.DurationS = max(out.DurationS, s.DurationS)
		if s.Start < out.Start {
			out.Start = s.Start
		}
		if s.Tag != "" && !slices.Contains(tags, s.Tag) {
			tags = append(tags, s.Tag)
		}
		for k, v := range s.Errors {
			out.Errors[k] += v
		}
		for k, v := range s.FirstErrors {
			if out.FirstErrors == nil {
				out.FirstErrors = map[string]string{}
			}
			if _, ok := out.FirstErrors[k]; !ok {
				out.FirstErrors[k] = v
			}
		}
		for _, p := range []struct {
			dst *hdr.Histogram
			l   *loadgen.Latency
		}{{corr, &s.Corrected}, {unc, &s.Uncorrected}, {conn, s.Connect}, {fb, s.FirstByte}, {fbUnc, s.FirstByteUncorrected}} {
			if p.l == nil {
				continue
			}
			h, err := p.l.Decode()
			if err != nil {
				return loadgen.Summary{}, fmt.Errorf("merge %s: %w", names[i], err)
			}
			if dropped := p.dst.Merge(h); dropped > 0 {
				return loadgen.Summary{}, fmt.Errorf("merge %s: %d values out of range", names[i], dropped)
			}
		}
	}
	slices.SortFunc(out.Shards, func(a, b loadgen.ShardRow) int { return a.Index - b.Index })
	// The shards' rates are each the whole's N-th: their sum is the
	// whole's, less the rounding of the division.
	out.RequestedRate = math.Round(out.RequestedRate*1e6) / 1e6
	out.Tag = strings.Join(tags, "+")
	out.Corrected = loadgen.LatencyOf(corr)
	out.Uncorrected = loadgen.LatencyOf(unc)
	out.ConnectRate = math.Round(out.ConnectRate*1e6) / 1e6
	out.Connect, out.FirstByte, out.FirstByteUncorrected = optLatency(conn), optLatency(fb), optLatency(fbUnc)
	out.AchievedRate, out.AchievedConnectRate = 0, 0
	if out.DurationS > 0 {
		out.AchievedRate = math.Round(float64(out.Requests)/out.DurationS*1e3) / 1e3
		if out.Reconnect {
			out.AchievedConnectRate = math.Round(float64(out.Connects)/out.DurationS*1e3) / 1e3
		}
	}
	out.Account()
	return out, nil
}

// optLatency summarises h, or returns nil for an empty histogram: an
// optional latency of a summary.
func optLatency(h *hdr.Histogram) *loadgen.Latency {
	if h.TotalCount() == 0 {
		return nil
	}
	l := loadgen.LatencyOf(h)
	return &l
}

// ErrNotMergeable is wrapped by the error of a merge of runs that do not
// make one load (see MergeDirs).
var ErrNotMergeable = errors.New("merge refused")

// loadDiff says how b's load differs from a's in what their summaries
// show, or returns "" for the same load. A summary's configuration hash
// (loadgen.Config.Hash) is what decides whether two runs are one load (see
// checkOneLoad); loadDiff decides only for summaries without one, and says
// in words how two loads of different hashes differ. It compares the same
// target (network, address), the same requests (protocol, framing, echo
// size, pipeline, short connections, replies or none), the same loop
// (closed, or open at the same rate) and the same connections. What each
// process measured (its start, its duration, its counts, its latencies)
// differs between processes of one load, and its tag names the process, so
// neither is compared.
func loadDiff(a, b loadgen.Summary) string {
	var d []string
	diff := func(name string, x, y any) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %v, not %v", name, y, x))
		}
	}
	diff("network", a.Network, b.Network)
	diff("address", a.Addr, b.Addr)
	diff("protocol", a.Protocol, b.Protocol)
	diff("framing", a.Framing, b.Framing)
	diff("size", a.Size, b.Size)
	diff("connections", a.Connections, b.Connections)
	diff("pipeline", a.Pipeline, b.Pipeline)
	diff("short connections", a.Reconnect, b.Reconnect)
	diff("requests per connection", a.RequestsPerConn, b.RequestsPerConn)
	diff("close", a.Close, b.Close)
	diff("no replies", a.NoReply, b.NoReply)
	loop := func(s loadgen.Summary) string {
		if s.RateShape != "" {
			return "an open loop at rate " + s.RateShape
		}
		if s.RequestedRate > 0 {
			return fmt.Sprintf("an open loop at %g req/s", s.RequestedRate)
		}
		return "a closed loop"
	}
	diff("loop", loop(a), loop(b))
	return strings.Join(d, "; ")
}

// MergeDirs merges the summary.json and latency.hlog of each of dirs (the
// --out directories of loadgen processes) into out, and writes the merged
// corrected latency as latency.hgrm there too. The runs must be one load
// (see checkOneLoad: one configuration hash, and every shard of a sharded
// load once), each directory given once, and out none of them: merged
// files would replace an input's. The thresholds ts are evaluated on the
// merged histograms and kept in the merged summary.
func MergeDirs(out string, dirs []string, ts ...loadgen.Threshold) (loadgen.Summary, error) {
	if err := distinctDirs(out, dirs); err != nil {
		return loadgen.Summary{}, err
	}
	var ss []loadgen.Summary
	var logs [][]LogEntry
	for _, d := range dirs {
		s, err := loadgen.ReadSummaryFile(d)
		if err != nil {
			return loadgen.Summary{}, fmt.Errorf("merge: %w", err)
		}
		ss = append(ss, s)
		lf, err := os.Open(filepath.Join(d, loadgen.HlogFile))
		if err != nil {
			return loadgen.Summary{}, fmt.Errorf("merge: %w", err)
		}
		l, err := ReadHlog(lf)
		lf.Close()
		if err != nil {
			return loadgen.Summary{}, fmt.Errorf("merge %s: %w", d, err)
		}
		logs = append(logs, l)
	}
	s, err := mergeSummaries(ss, dirs)
	if err != nil {
		return loadgen.Summary{}, err
	}
	if s.Thresholds, err = loadgen.CheckThresholds(ts, s); err != nil {
		return loadgen.Summary{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return loadgen.Summary{}, fmt.Errorf("merge: %w", err)
	}
	h, _ := s.Corrected.Decode()
	err = writeFiles(out, map[string]func(io.Writer) error{
		loadgen.SummaryFile: func(w io.Writer) error { return loadgen.WriteSummary(w, s) },
		loadgen.HlogFile:    func(w io.Writer) error { return WriteLog(w, MergeLogs(logs, int64(time.Second/time.Millisecond))) },
		loadgen.HgrmFile:    func(w io.Writer) error { return loadgen.WriteHgrm(w, h) },
	})
	return s, err
}

// distinctDirs checks that no directory of dirs is given twice (under any
// name: a path, a symbolic link) and that out is none of them.
func distinctDirs(out string, dirs []string) error {
	infos := make([]os.FileInfo, len(dirs))
	for i, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		for j := range i {
			if os.SameFile(infos[j], fi) {
				return fmt.Errorf("%w: %s and %s are the same directory: a run merged with itself counts twice", ErrNotMergeable, dirs[j], d)
			}
		}
		infos[i] = fi
	}
	if fo, err := os.Stat(out); err == nil {
		for i, fi := range infos {
			if os.SameFile(fi, fo) {
				return fmt.Errorf("%w: the output directory %s is the input %s: the merged files would replace its own", ErrNotMergeable, out, dirs[i])
			}
		}
	}
	return nil
}

// Render reads the runs in dirs and writes summary.md and index.html into
// out.
func Render(out string, dirs []string) (*Run, error) {
	r, err := LoadAll(dirs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return r, WriteReport(out, r)
}

// WriteReport writes r's summary.md and index.html into dir.
func WriteReport(dir string, r *Run) error {
	return writeFiles(dir, map[string]func(io.Writer) error{
		MarkdownFile: func(w io.Writer) error { return WriteMarkdown(w, r) },
		HTMLFile:     func(w io.Writer) error { return WriteHTML(w, r) },
	})
}
