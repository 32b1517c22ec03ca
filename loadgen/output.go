package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
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
// a version comment, the start time, the base time, the legend, and one
// tagged line per histogram per interval, timestamps relative to start.
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
		for _, h := range []*hdr.PackedHistogram{iv.Corrected, iv.Uncorrected, iv.Connect} {
			if h == nil || (h.Tag() == TagConnect && h.TotalCount() == 0) {
				continue
			}
			if err := lw.OutputIntervalPackedHistogram(h); err != nil {
				return err
			}
		}
	}
	return nil
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

// WriteText writes a wrk-like summary of s.
func WriteText(w io.Writer, s Summary) error {
	bw := bufio.NewWriter(w)
	mode := "closed loop"
	if s.RequestedRate > 0 {
		mode = fmt.Sprintf("open loop at %g req/s", s.RequestedRate)
	}
	conn := "long connections"
	if s.Reconnect {
		conn = "a new connection per request"
	}
	if s.NoReply {
		conn += ", no replies (a request is done once sent)"
	}
	proto := s.Protocol
	if s.Framing != "" {
		proto += ", " + s.Framing + " framing"
	}
	fmt.Fprintf(bw, "%.2fs load of %s %s (%s), %s, %d connections x %d in flight, %s\n",
		s.DurationS, s.Network, s.Addr, proto, mode, s.Connections, s.Pipeline, conn)
	lat := func(name string, l Latency) {
		fmt.Fprintf(bw, "  %s latency (count %d, mean %s, stdev %s)\n", name, l.Count, FormatDuration(l.MeanUs), FormatDuration(l.StdDevUs))
		fmt.Fprintf(bw, "    %7s %7s %7s %7s %7s %7s %7s\n", "50%", "75%", "90%", "99%", "99.9%", "99.99%", "max")
		fmt.Fprintf(bw, "    %7s %7s %7s %7s %7s %7s %7s\n",
			FormatDuration(l.P50Us), FormatDuration(l.P75Us), FormatDuration(l.P90Us), FormatDuration(l.P99Us),
			FormatDuration(l.P999Us), FormatDuration(l.P9999Us), FormatDuration(l.MaxUs))
	}
	if s.RequestedRate > 0 {
		lat("Corrected (from when due)", s.Corrected)
		lat("Uncorrected (from when sent)", s.Uncorrected)
		fmt.Fprintf(bw, "  %d requests sent more than 1ms late (latest %s)\n", s.Late, FormatDuration(s.MaxLateUs))
	} else {
		lat("Latency", s.Uncorrected)
	}
	if s.Connect != nil {
		lat("Connect", *s.Connect)
	}
	fmt.Fprintf(bw, "  %d requests in %.2fs, %s sent, %s received\n", s.Requests, s.DurationS, formatBytes(s.BytesSent), formatBytes(s.BytesReceived))
	fmt.Fprintf(bw, "Requests/sec: %.2f\n", s.AchievedRate)
	if s.ErrorsTotal > 0 {
		fmt.Fprintf(bw, "Errors: %d\n", s.ErrorsTotal)
		for _, c := range Classes() {
			if n := s.Errors[c.String()]; n > 0 {
				fmt.Fprintf(bw, "  %-16s %d", c.String(), n)
				if m := s.FirstErrors[c.String()]; m != "" {
					fmt.Fprintf(bw, "  (first: %s)", m)
				}
				fmt.Fprintln(bw)
			}
		}
	} else {
		fmt.Fprintln(bw, "Errors: 0")
	}
	if s.Unfinished > 0 {
		fmt.Fprintf(bw, "  %d requests still in flight at the end (not counted)\n", s.Unfinished)
	}
	return bw.Flush()
}
