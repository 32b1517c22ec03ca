package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/socklab/socklab/protocol"
)

// Tags of the interval histograms in a latency.hlog.
const (
	TagCorrected   = "corrected"
	TagUncorrected = "uncorrected"
	TagConnect     = "connect"
)

// Result is the outcome of a run. Its histograms hold nanoseconds.
type Result struct {
	Config Config
	// Start is when the measured part began (after warmup).
	Start time.Time
	// Duration is the measured part's length.
	Duration time.Duration
	// Requests is the number of requests answered correctly.
	Requests int64
	// Errors counts failed requests by class.
	Errors [numClasses]int64
	// FirstErrors holds the first error message seen of each class.
	FirstErrors map[string]string
	// BytesSent and BytesReceived count payload bytes, warmup included.
	BytesSent, BytesReceived int64
	// Late counts open-loop requests sent more than 1 ms after they were
	// due; MaxLate is the latest.
	Late    int64
	MaxLate time.Duration
	// Unfinished counts requests still in flight when the run ended.
	Unfinished int64
	// Corrected is latency from when each request was due; in a closed
	// loop it equals Uncorrected.
	Corrected *hdr.Histogram
	// Uncorrected is latency from when each request was sent.
	Uncorrected *hdr.Histogram
	// Connect is connect time.
	Connect *hdr.Histogram
	// Intervals are the per-interval histograms, in order.
	Intervals []Interval
}

// Interval holds one interval's histograms, stamped with their start and
// end times and tagged.
type Interval struct {
	Corrected, Uncorrected, Connect *hdr.PackedHistogram
}

// ErrorCount returns the number of errors of class c.
func (r *Result) ErrorCount(c Class) int64 { return r.Errors[c] }

// TotalErrors returns the number of errors of every class.
func (r *Result) TotalErrors() int64 {
	var n int64
	for _, e := range r.Errors {
		n += e
	}
	return n
}

// SummaryVersion is the version of the summary.json format.
const SummaryVersion = 1

// Summary is the JSON form of a result (summary.json). Latencies are in
// microseconds; each Latency carries its whole histogram, V2 compressed and
// base64 encoded as in HdrHistogram logs, so that summaries merge without
// loss.
type Summary struct {
	Version       int               `json:"version"`
	Tag           string            `json:"tag,omitempty"`
	Network       string            `json:"network"`
	Addr          string            `json:"addr"`
	Protocol      string            `json:"protocol"`
	Framing       string            `json:"framing,omitempty"`
	Detected      string            `json:"framing_detected,omitempty"`
	Size          int               `json:"size,omitempty"`
	Connections   int               `json:"connections"`
	Pipeline      int               `json:"pipeline"`
	Reconnect     bool              `json:"reconnect"`
	NoReply       bool              `json:"no_reply,omitempty"`
	Start         string            `json:"start"`
	DurationS     float64           `json:"duration_s"`
	RequestedRate float64           `json:"requested_rate"`
	AchievedRate  float64           `json:"achieved_rate"`
	Requests      int64             `json:"requests"`
	Errors        map[string]int64  `json:"errors"`
	ErrorsTotal   int64             `json:"errors_total"`
	FirstErrors   map[string]string `json:"first_errors,omitempty"`
	Unfinished    int64             `json:"unfinished"`
	Late          int64             `json:"late"`
	MaxLateUs     float64           `json:"max_late_us"`
	BytesSent     int64             `json:"bytes_sent"`
	BytesReceived int64             `json:"bytes_received"`
	Corrected     Latency           `json:"corrected"`
	Uncorrected   Latency           `json:"uncorrected"`
	Connect       *Latency          `json:"connect,omitempty"`
}

// Latency summarises one histogram in microseconds.
type Latency struct {
	Count     int64   `json:"count"`
	MeanUs    float64 `json:"mean_us"`
	StdDevUs  float64 `json:"stddev_us"`
	MinUs     float64 `json:"min_us"`
	P50Us     float64 `json:"p50_us"`
	P75Us     float64 `json:"p75_us"`
	P90Us     float64 `json:"p90_us"`
	P99Us     float64 `json:"p99_us"`
	P999Us    float64 `json:"p99_9_us"`
	P9999Us   float64 `json:"p99_99_us"`
	MaxUs     float64 `json:"max_us"`
	Histogram string  `json:"histogram"`
}

// Percentiles shown in summaries.
var Percentiles = []float64{50, 75, 90, 99, 99.9, 99.99}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// LatencyOf summarises h (nanoseconds) in microseconds.
func LatencyOf(h *hdr.Histogram) Latency {
	l := Latency{Count: h.TotalCount()}
	if l.Count > 0 {
		v := h.ValueAtPercentilesSlice(Percentiles)
		l.MeanUs = round3(h.Mean() / 1e3)
		l.StdDevUs = round3(h.StdDev() / 1e3)
		l.MinUs = us(h.Min())
		l.P50Us, l.P75Us, l.P90Us, l.P99Us, l.P999Us, l.P9999Us = us(v[0]), us(v[1]), us(v[2]), us(v[3]), us(v[4]), us(v[5])
		l.MaxUs = us(h.Max())
	}
	if enc, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		l.Histogram = string(enc)
	}
	return l
}

func round3(f float64) float64 { return math.Round(f*1e3) / 1e3 }

// Decode returns the latency's histogram.
func (l Latency) Decode() (*hdr.Histogram, error) {
	if l.Histogram == "" {
		return NewHistogram(), nil
	}
	h, err := hdr.Decode([]byte(l.Histogram))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// Summary returns the result's summary.
func (r *Result) Summary() Summary {
	c := r.Config
	s := Summary{
		Version:       SummaryVersion,
		Tag:           c.Tag,
		Network:       c.Network,
		Addr:          c.Addr,
		Protocol:      c.Protocol,
		Framing:       framingOf(&c),
		Detected:      c.FramingEvidence,
		Connections:   c.Connections,
		Pipeline:      c.Pipeline,
		Reconnect:     c.Reconnect,
		NoReply:       c.NoReply,
		Start:         r.Start.UTC().Format(time.RFC3339Nano),
		DurationS:     round3(r.Duration.Seconds()),
		RequestedRate: c.Rate,
		Requests:      r.Requests,
		Errors:        map[string]int64{},
		ErrorsTotal:   r.TotalErrors(),
		Unfinished:    r.Unfinished,
		Late:          r.Late,
		MaxLateUs:     us(int64(r.MaxLate)),
		BytesSent:     r.BytesSent,
		BytesReceived: r.BytesReceived,
		Corrected:     LatencyOf(r.Corrected),
		Uncorrected:   LatencyOf(r.Uncorrected),
	}
	if c.Protocol == "echo" {
		s.Size = c.Client.Size
		if s.Size == 0 {
			s.Size = 64
		}
	}
	if len(r.FirstErrors) > 0 {
		s.FirstErrors = r.FirstErrors
	}
	if r.Duration > 0 {
		s.AchievedRate = round3(float64(r.Requests) / r.Duration.Seconds())
	}
	for _, cl := range Classes() {
		s.Errors[cl.String()] = r.Errors[cl]
	}
	if r.Connect.TotalCount() > 0 {
		l := LatencyOf(r.Connect)
		s.Connect = &l
	}
	return s
}

// ReadSummary parses a summary.json. It checks the version and that every
// embedded histogram decodes.
func ReadSummary(rd io.Reader) (Summary, error) {
	var s Summary
	dec := json.NewDecoder(io.LimitReader(rd, 64<<20))
	if err := dec.Decode(&s); err != nil {
		return Summary{}, fmt.Errorf("read summary: %w", err)
	}
	if s.Version != SummaryVersion {
		return Summary{}, fmt.Errorf("read summary: version %d: %w", s.Version, ErrSummaryVersion)
	}
	for _, l := range []*Latency{&s.Corrected, &s.Uncorrected, s.Connect} {
		if l == nil {
			continue
		}
		if _, err := l.Decode(); err != nil {
			return Summary{}, fmt.Errorf("read summary: %w", err)
		}
	}
	if s.Errors == nil {
		s.Errors = map[string]int64{}
	}
	return s, nil
}

// ErrSummaryVersion is returned for a summary.json of another version.
var ErrSummaryVersion = errors.New("unsupported summary version")

// framingOf names the framing of a run of a framed protocol ("" for echo,
// which has none).
func framingOf(c *Config) string {
	if p, err := protocol.Lookup(c.Protocol); err == nil && p.Framed {
		return c.Client.Framing.String()
	}
	return ""
}
