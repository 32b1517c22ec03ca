package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Files of a load's results (reports.WriteResult writes them).
const (
	HgrmFile    = "latency.hgrm"
	HlogFile    = "latency.hlog"
	SummaryFile = "summary.json"
)

// HgrmScale is the unit of latency.hgrm values: milliseconds (the
// nanosecond histogram divided by 1e6), the unit HdrHistogram's plotter
// labels its axis with. Three decimals keep microsecond resolution.
const HgrmScale = 1e6

// WriteHgrm writes h (nanoseconds) as an HdrHistogram percentile
// distribution in milliseconds: "Value Percentile TotalCount
// 1/(1-Percentile)" rows and the #[Mean …] footer.
func WriteHgrm(w io.Writer, h *hdr.Histogram) error {
	_, err := h.PercentilesPrint(w, 5, HgrmScale)
	return err
}

// WriteHlog writes intervals as an HdrHistogram interval log, format 1.3:
// a version comment, the start time, the base time, the legend, and per
// interval, in an open loop, a comment of what it requested (see
// FormatRequested), then the corrected histogram untagged (what
// HdrHistogram's tools read by default), the uncorrected and, those that
// have values, the connect, first-byte and uncorrected first-byte ones,
// tagged; timestamps are relative to start.
func WriteHlog(w io.Writer, start time.Time, intervals []Interval) error {
	lw := hdr.NewHistogramLogWriter(w)
	ms := start.UnixMilli()
	// The log's BaseTime line holds whole seconds, so the base the interval
	// timestamps are relative to is the whole second too; readers then
	// recover exact absolute times.
	lw.SetBaseTime(ms - ms%1000)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	if err := lw.OutputStartTime(ms); err != nil {
		return err
	}
	if err := lw.OutputBaseTime(ms - ms%1000); err != nil {
		return err
	}
	if err := lw.OutputLegend(); err != nil {
		return err
	}
	for _, iv := range intervals {
		if iv.Requested != nil {
			if _, err := io.WriteString(w, FormatRequested(*iv.Requested)); err != nil {
				return err
			}
		}
		for _, h := range []*hdr.PackedHistogram{iv.Corrected, iv.Uncorrected, iv.Connect, iv.FirstByte, iv.FirstByteUncorrected} {
			if h == nil || (h.Tag() != TagCorrected && h.Tag() != TagUncorrected && h.TotalCount() == 0) {
				continue
			}
			if err := lw.OutputIntervalPackedHistogram(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// requestedPrefix opens an interval log's comment of what the open loop
// requested of the interval whose histograms follow it. HdrHistogram's
// readers skip comments other than their own #[StartTime and #[BaseTime.
const requestedPrefix = "#[Requested: "

// FormatRequested returns the interval log's comment line of what an open
// loop requested of the interval whose histograms follow it: like
// "#[Requested: 250 due, 250.000 req/s]".
func FormatRequested(q Requested) string {
	return fmt.Sprintf("%s%d due, %.3f req/s]\n", requestedPrefix, q.Due, q.Rate)
}

// ParseRequested parses a line FormatRequested wrote.
func ParseRequested(line string) (Requested, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), requestedPrefix)
	if !ok {
		return Requested{}, false
	}
	var q Requested
	if n, err := fmt.Sscanf(rest, "%d due, %g req/s]", &q.Due, &q.Rate); n != 2 || err != nil || q.Due < 0 || q.Rate < 0 || math.IsNaN(q.Rate) || math.IsInf(q.Rate, 0) {
		return Requested{}, false
	}
	return q, true
}

// WriteSummary writes s as indented JSON (map keys sorted, as encoding/json
// does).
func WriteSummary(w io.Writer, s Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// FormatDuration prints a latency given in microseconds the way wrk does:
// the largest unit that keeps the number above one.
func FormatDuration(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.2fus", us)
	}
}

func formatBytes(n int64) string {
	f := float64(n)
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.2fGB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.2fMB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.2fKB", f/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// WriteText writes a summary of s for a person: what was asked and what
// came of every request due, the latency table (the corrected latency
// first), the errors by class and the thresholds, in aligned columns.
func WriteText(w io.Writer, s Summary) error {
	bw := bufio.NewWriter(w)
	mode := "closed loop"
	switch {
	case s.ConnectRate > 0:
		mode = fmt.Sprintf("open loop at %g connects/s", s.ConnectRate)
	case s.RateShape != "":
		mode = fmt.Sprintf("open loop at rate %s", s.RateShape)
	case s.RequestedRate > 0:
		mode = fmt.Sprintf("open loop at %g req/s", s.RequestedRate)
	}
	conn := "long connections"
	switch {
	case s.Reconnect && s.RequestsPerConn > 1:
		conn = fmt.Sprintf("a new connection per %d requests, closed by the %s first", s.RequestsPerConn, s.Close)
	case s.Reconnect:
		conn = "a new connection per request"
		if s.Close == CloseServer {
			conn += ", closed by the server first"
		}
	}
	if s.NoReply {
		conn += ", no replies (a request is done once sent)"
	}
	proto := s.Protocol
	if s.Framing != "" {
		proto += ", " + s.Framing + " framing"
	}
	conns := fmt.Sprintf("%d connections", s.Connections)
	if s.ConnectRate > 0 {
		conns = fmt.Sprintf("at most %d connections open", s.Connections)
	}
	fmt.Fprintf(bw, "%.2fs load of %s %s (%s), %s, %s x %d in flight, %s\n",
		s.DurationS, s.Network, s.Addr, proto, mode, conns, s.Pipeline, conn)
	if s.Shard != nil {
		fmt.Fprintf(bw, "shard %d of %d on %s: its share of the load of configuration %.12s\n", s.Shard.Index, s.Shard.Count, s.Shard.Host, s.ConfigHash)
	}
	if s.StartAt != "" {
		fmt.Fprintf(bw, "started %s after --start-at %s\n", FormatDuration(s.StartOffsetUs), s.StartAt)
	}
	fmt.Fprintln(bw)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	requested := "- (closed loop)"
	switch {
	case s.RateShape != "":
		requested = fmt.Sprintf("%g req/s\tmean of %s", s.RequestedRate, s.RateShape)
	case s.RequestedRate > 0:
		requested = fmt.Sprintf("%g req/s", s.RequestedRate)
	}
	fmt.Fprintf(tw, "requested\t%s\n", requested)
	fmt.Fprintf(tw, "achieved\t%.2f req/s\t%d answered in %.2fs\n", s.AchievedRate, s.Requests, s.DurationS)
	if s.Reconnect {
		asked := ""
		if s.ConnectRate > 0 {
			asked = fmt.Sprintf(" (requested %g/s)", s.ConnectRate)
		}
		fmt.Fprintf(tw, "connects\t%.2f/s\t%d made%s\n", s.AchievedConnectRate, s.Connects, asked)
	}
	fmt.Fprintf(tw, "success\t%s\tof %d requests due\n", FormatRatio(s.SuccessRatio), s.Due)
	failed := ""
	if s.ErrorsTotal > 0 {
		failed = "see errors below"
	}
	fmt.Fprintf(tw, "failed\t%d\t%s\n", s.ErrorsTotal, failed)
	fmt.Fprintf(tw, "unsent\t%d\tdue, never sent: the connection was busy, stalled or not yet served\n", s.Unsent)
	fmt.Fprintf(tw, "unfinished\t%d\tsent, unanswered %s after the end\n", s.Unfinished, FormatDuration(s.GraceS*1e6))
	if s.Connecting > 0 {
		fmt.Fprintf(tw, "connecting\t%d\tconnects still in progress at the end\n", s.Connecting)
	}
	late := "sent more than 1ms after due"
	switch {
	case s.RequestedRate <= 0:
		late += " (a closed loop sends each request when it is due)"
	case s.Late > 0:
		late += fmt.Sprintf(" (latest %s)", FormatDuration(s.MaxLateUs))
	}
	fmt.Fprintf(tw, "late\t%d\t%s\n", s.Late, late)
	fmt.Fprintf(tw, "bytes\t%s sent, %s received\n", formatBytes(s.BytesSent), formatBytes(s.BytesReceived))
	if err := tw.Flush(); err != nil {
		return err
	}

	// The latency table: the corrected latency holds every request (in a
	// closed loop it differs from the latency of the answered ones only by
	// timeouts and requests left at the end, and is then shown alone when
	// they are equal).
	type row struct {
		name string
		l    Latency
	}
	var rows []row
	switch {
	case s.RequestedRate > 0 || s.RateShape != "":
		rows = append(rows, row{"corrected (from due)", s.Corrected}, row{"uncorrected (from sent, answered only)", s.Uncorrected})
	case s.Corrected.Histogram != s.Uncorrected.Histogram:
		rows = append(rows, row{"all requests", s.Corrected}, row{"answered only", s.Uncorrected})
	default:
		rows = append(rows, row{"requests", s.Corrected})
	}
	if s.Connect != nil {
		rows = append(rows, row{"connect", *s.Connect})
	}
	if s.FirstByte != nil {
		rows = append(rows, row{"first byte (from due)", *s.FirstByte})
	}
	if s.FirstByteUncorrected != nil {
		rows = append(rows, row{"first byte (from connect)", *s.FirstByteUncorrected})
	}
	fmt.Fprintln(bw)
	// Names flush left, numbers flush right: tabwriter aligns every column
	// one way, so the names are padded to one width first.
	width := len("latency")
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tcount\tmean\tstdev\t50%%\t75%%\t90%%\t99%%\t99.9%%\t99.99%%\tmax\t\n", width, "latency")
	var empty []string
	for _, r := range rows {
		l := r.l
		if l.Count == 0 {
			empty = append(empty, r.name)
			continue
		}
		fmt.Fprintf(tw, "%-*s\t%d\t", width, r.name, l.Count)
		for _, v := range []float64{l.MeanUs, l.StdDevUs, l.P50Us, l.P75Us, l.P90Us, l.P99Us, l.P999Us, l.P9999Us, l.MaxUs} {
			fmt.Fprintf(tw, "%s\t", FormatDuration(v))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range empty {
		fmt.Fprintf(bw, "%s: no values\n", n)
	}
	if s.ErrorsTotal > 0 || s.Unsent > 0 || s.Unfinished > 0 {
		fmt.Fprintf(bw, "\nThe corrected latency holds timeouts at the time they took, and unsent and unfinished requests at their age when the run stopped (lower bounds: the oldest %s).\n", FormatDuration(s.OldestUs))
	}

	if s.ErrorsTotal > 0 {
		fmt.Fprintln(bw, "\nerrors")
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		for _, c := range Classes() {
			if n := s.Errors[c.String()]; n > 0 {
				fmt.Fprintf(tw, "  %s\t%d\t", c.String(), n)
				if m := s.FirstErrors[c.String()]; m != "" {
					fmt.Fprintf(tw, "first: %s", m)
				}
				fmt.Fprintln(tw)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range Classes() {
			if a := c.Advice(); a != "" && s.Errors[c.String()] > 0 {
				fmt.Fprintf(bw, "\n%s: %s.\n", c.String(), a)
			}
		}
	}
	if len(s.Thresholds) > 0 {
		fmt.Fprintln(bw, "\nthresholds")
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		for _, t := range s.Thresholds {
			verdict := "ok"
			if t.Crossed {
				verdict = "CROSSED"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Expr, verdict, t.Value)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// FormatRatio prints a success ratio as a percentage with the digits that
// matter: 100% only when every request was answered.
func FormatRatio(r float64) string {
	switch {
	case r >= 1:
		return "100%"
	case r >= 0.999:
		return fmt.Sprintf("%.3f%%", 100*r)
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}
