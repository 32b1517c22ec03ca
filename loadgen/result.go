package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/socklab/socklab/protocol"
)

// Tags of the interval histograms in a latency.hlog. The corrected
// histogram is untagged: HdrHistogram's own tools (HistogramLogProcessor
// without -tag, for one) read the untagged histograms of a log by default,
// and the corrected latency is the one to read.
const (
	TagCorrected            = ""
	TagUncorrected          = "uncorrected"
	TagConnect              = "connect"
	TagFirstByte            = "first_byte"
	TagFirstByteUncorrected = "first_byte_uncorrected"
)

// intervalTags are the tags of an interval's histograms, in the order of
// Interval's fields (and of ivHists.all).
var intervalTags = []string{TagCorrected, TagUncorrected, TagConnect, TagFirstByte, TagFirstByteUncorrected}

// Result is the outcome of a run. Its histograms hold nanoseconds.
type Result struct {
	Config Config
	// Start is when the measured part began (after warmup).
	Start time.Time
	// Duration is the measured part's length.
	Duration time.Duration
	// Requests is the number of requests answered correctly.
	Requests int64
	// Errors counts failed requests by class. A timeout's time is in the
	// corrected histogram too.
	Errors [numClasses]int64
	// FirstErrors holds the first error message seen of each class.
	FirstErrors map[string]string
	// BytesSent and BytesReceived count payload bytes, warmup included.
	BytesSent, BytesReceived int64
	// Late counts open-loop requests sent more than 1 ms after they were
	// due; MaxLate is the latest.
	Late    int64
	MaxLate time.Duration
	// Unfinished counts requests sent and still unanswered when the run
	// stopped (after the grace); Unsent, requests due in the measured part
	// that were never sent (their connection busy, stalled or not yet
	// served); Connecting, connects still in progress then. Oldest is the
	// largest age of an unfinished or unsent request.
	Unfinished int64
	Unsent     int64
	Connecting int64
	Oldest     time.Duration
	// Corrected is latency from when each request was due (in a closed
	// loop, when it was sent), of every request: those answered, those
	// that timed out (at the time they waited), and those unfinished or
	// unsent, at their age when the run stopped (a lower bound).
	Corrected *hdr.Histogram
	// Uncorrected is latency from when each request was sent, of the
	// answered requests only: the service time, which flatters a server
	// that leaves requests waiting.
	Uncorrected *hdr.Histogram
	// Connect is connect time, from when the connect began; a connect
	// still in progress when the run stopped is in it at its age.
	Connect *hdr.Histogram
	// FirstByte is, with short connections, the time from when each
	// connection was due (in an open loop the schedule's due time, so a
	// connect held up by the cap of connections or a stalled accept shows;
	// in a closed loop, when its connect began) to the first byte the
	// server sent on it, greeting or reply; FirstByteUncorrected, from when
	// its connect began. Only connections that received a byte are in
	// them: the others' requests are in the corrected latency and errors.
	FirstByte, FirstByteUncorrected *hdr.Histogram
	// Connects counts connects begun in the measured part that completed.
	Connects int64
	// Thresholds, if set before the summary is made, are carried in it.
	Thresholds []ThresholdResult
	// Intervals are the per-interval histograms, in order.
	Intervals []Interval
	// Host is the name of the host the run ran on.
	Host string
	// StartOffset is, with Config.StartAt, how late after it the run
	// started by this host's clock.
	StartOffset time.Duration
}

// Interval holds one interval's histograms, stamped with their start and
// end times and tagged.
type Interval struct {
	Corrected, Uncorrected, Connect *hdr.PackedHistogram
	FirstByte, FirstByteUncorrected *hdr.PackedHistogram
	// Requested, in an open loop, is what its schedule asked of the
	// interval (of this process, a shard its share); nil in a closed loop
	// and after the end of the run.
	Requested *Requested
}

// Requested is what an open loop's schedule asked of one interval: the
// requests due in it, and their rate over the part of the interval before
// the end of the run.
type Requested struct {
	Due  int64
	Rate float64
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

// SummaryVersion is the version of the summary.json format. Version 2 put
// timeouts, unfinished and unsent requests in the corrected histogram and
// counted unsent requests and pending connects; a version 1 summary's
// corrected latency is of the answered requests only, so the two are not
// mixed. Fields added since (the connection-rate fields, first_byte) are
// optional and leave the others' meaning as it was, so the version stays.
const SummaryVersion = 2

// Summary is the JSON form of a result (summary.json). Latencies are in
// microseconds; each Latency carries its whole histogram, V2 compressed and
// base64 encoded as in HdrHistogram logs, so that summaries merge without
// loss.
type Summary struct {
	Version     int    `json:"version"`
	Tag         string `json:"tag,omitempty"`
	Network     string `json:"network"`
	Addr        string `json:"addr"`
	Protocol    string `json:"protocol"`
	Framing     string `json:"framing,omitempty"`
	Detected    string `json:"framing_detected,omitempty"`
	Size        int    `json:"size,omitempty"`
	Connections int    `json:"connections"`
	Pipeline    int    `json:"pipeline"`
	Reconnect   bool   `json:"reconnect"`
	// RequestsPerConn and Close are, with short connections, the requests
	// each connection carries and who closes it first.
	RequestsPerConn int    `json:"requests_per_conn,omitempty"`
	Close           string `json:"close,omitempty"`
	// ConnectRate is, in a connection-rate run (an open loop of short
	// connections), the connects per second requested; RequestedRate is
	// then ConnectRate times RequestsPerConn. Connects counts the connects
	// begun in the measured part that completed, AchievedConnectRate them
	// per second.
	ConnectRate         float64 `json:"requested_connect_rate,omitempty"`
	Connects            int64   `json:"connects,omitempty"`
	AchievedConnectRate float64 `json:"achieved_connect_rate,omitempty"`
	NoReply             bool    `json:"no_reply,omitempty"`
	Start               string  `json:"start"`
	DurationS           float64 `json:"duration_s"`
	GraceS              float64 `json:"grace_s"`
	// RequestedRate is the mean rate requested over the measured part
	// (the rate itself for a constant one), and RateShape the shape of a
	// rate that varies, as --rate takes it.
	RequestedRate float64 `json:"requested_rate"`
	RateShape     string  `json:"rate_shape,omitempty"`
	AchievedRate  float64 `json:"achieved_rate"`
	// Due is every request accounted for: answered, failed, unfinished or
	// unsent. SuccessRatio is the answered share of it.
	Due          int64             `json:"due"`
	SuccessRatio float64           `json:"success_ratio"`
	Requests     int64             `json:"requests"`
	Errors       map[string]int64  `json:"errors"`
	ErrorsTotal  int64             `json:"errors_total"`
	FirstErrors  map[string]string `json:"first_errors,omitempty"`
	Unfinished   int64             `json:"unfinished"`
	Unsent       int64             `json:"unsent"`
	Connecting   int64             `json:"connecting"`
	OldestUs     float64           `json:"oldest_unfinished_us"`
	Late         int64             `json:"late"`
	MaxLateUs    float64           `json:"max_late_us"`
	// BytesSent and BytesReceived count payload bytes, warm-up included.
	BytesSent     int64    `json:"bytes_sent"`
	BytesReceived int64    `json:"bytes_received"`
	Corrected     Latency  `json:"corrected"`
	Uncorrected   Latency  `json:"uncorrected"`
	Connect       *Latency `json:"connect,omitempty"`
	// FirstByte and FirstByteUncorrected are, with short connections, the
	// time to each connection's first byte from when it was due and from
	// when its connect began (see Result.FirstByte).
	FirstByte            *Latency          `json:"first_byte,omitempty"`
	FirstByteUncorrected *Latency          `json:"first_byte_uncorrected,omitempty"`
	Thresholds           []ThresholdResult `json:"thresholds,omitempty"`
	// ConfigHash is the hash of what defines the load (Config.Hash): the
	// same for every shard of one run, different for another load.
	ConfigHash string `json:"config_hash,omitempty"`
	// Shard says which part of a sharded load the run was; Connections
	// and RequestedRate are then its share.
	Shard *ShardInfo `json:"shard,omitempty"`
	// StartAt is the start the run waited for (--start-at), and
	// StartOffsetUs how late after it the run started by its host's
	// clock.
	StartAt       string  `json:"start_at,omitempty"`
	StartOffsetUs float64 `json:"start_offset_us,omitempty"`
	// Shards are, in a merge of a sharded load's runs, each shard's
	// figures, by index.
	Shards []ShardRow `json:"shards,omitempty"`
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
		Connections:   int(shareOf(int64(c.Connections), c.Shard, c.Shards)),
		Pipeline:      c.Pipeline,
		Reconnect:     c.Reconnect,
		NoReply:       c.NoReply,
		Start:         r.Start.UTC().Format(time.RFC3339Nano),
		DurationS:     round3(r.Duration.Seconds()),
		RequestedRate: c.requestedRate() / float64(max(c.Shards, 1)),
		ConfigHash:    c.Hash(),
		Requests:      r.Requests,
		Errors:        map[string]int64{},
		ErrorsTotal:   r.TotalErrors(),
		GraceS:        round3(max(c.Grace, 0).Seconds()),
		Unfinished:    r.Unfinished,
		Unsent:        r.Unsent,
		Connecting:    r.Connecting,
		OldestUs:      us(int64(r.Oldest)),
		Thresholds:    r.Thresholds,
		Late:          r.Late,
		MaxLateUs:     us(int64(r.MaxLate)),
		BytesSent:     r.BytesSent,
		BytesReceived: r.BytesReceived,
		Corrected:     LatencyOf(r.Corrected),
		Uncorrected:   LatencyOf(r.Uncorrected),
	}
	if !c.Rate.IsZero() && !c.Rate.IsConstant() {
		s.RateShape = c.Rate.String()
		s.RequestedRate = round3(s.RequestedRate)
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
	if c.sharded() {
		s.Shard = &ShardInfo{Index: c.Shard, Count: c.Shards, Host: r.Host}
	}
	if !c.StartAt.IsZero() {
		s.StartAt = c.StartAt.UTC().Format(time.RFC3339Nano)
		s.StartOffsetUs = us(int64(r.StartOffset))
	}
	if r.Duration > 0 {
		s.AchievedRate = round3(float64(r.Requests) / r.Duration.Seconds())
	}
	s.Account()
	for _, cl := range Classes() {
		s.Errors[cl.String()] = r.Errors[cl]
	}
	for _, o := range []struct {
		h   *hdr.Histogram
		dst **Latency
	}{{r.Connect, &s.Connect}, {r.FirstByte, &s.FirstByte}, {r.FirstByteUncorrected, &s.FirstByteUncorrected}} {
		if o.h != nil && o.h.TotalCount() > 0 {
			l := LatencyOf(o.h)
			*o.dst = &l
		}
	}
	if c.Reconnect {
		s.RequestsPerConn, s.Close = c.PerConn, c.Close
		s.Connects = r.Connects
		if !c.Rate.IsZero() {
			s.ConnectRate = s.RequestedRate
			s.RequestedRate = s.ConnectRate * float64(c.PerConn)
		}
		if r.Duration > 0 {
			s.AchievedConnectRate = round3(float64(r.Connects) / r.Duration.Seconds())
		}
	}
	return s
}

// Account sets Due and SuccessRatio from the counts.
func (s *Summary) Account() {
	s.Due = s.Requests + s.ErrorsTotal + s.Unfinished + s.Unsent
	s.SuccessRatio = 0
	if s.Due > 0 {
		s.SuccessRatio = math.Round(float64(s.Requests)/float64(s.Due)*1e6) / 1e6
	}
}

// Problems says, one phrase each, what makes the run a failure: failed,
// unfinished or unsent requests, connects still in progress at the end, or
// no answered request at all. A run without any served every request due.
func (s Summary) Problems() []string {
	var p []string
	if s.ErrorsTotal > 0 {
		p = append(p, fmt.Sprintf("%d failed", s.ErrorsTotal))
	}
	if s.Unsent > 0 {
		p = append(p, fmt.Sprintf("%d unsent", s.Unsent))
	}
	if s.Unfinished > 0 {
		p = append(p, fmt.Sprintf("%d unfinished", s.Unfinished))
	}
	if s.Connecting > 0 {
		p = append(p, fmt.Sprintf("%d connects unfinished", s.Connecting))
	}
	if s.Requests == 0 {
		p = append(p, "no request answered")
	}
	return p
}

// Served reports whether the run served every request due: no problem.
func (s Summary) Served() bool { return len(s.Problems()) == 0 }

// ReadSummaryFile reads the summary.json of the run written in dir.
func ReadSummaryFile(dir string) (Summary, error) {
	f, err := os.Open(filepath.Join(dir, SummaryFile))
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	s, err := ReadSummary(f)
	if err != nil {
		return Summary{}, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return s, nil
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
	for _, l := range s.Latencies() {
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

// Latencies returns the summary's latencies that are set: corrected,
// uncorrected, then connect and first byte (corrected, uncorrected) if
// present.
func (s *Summary) Latencies() []*Latency {
	ls := []*Latency{&s.Corrected, &s.Uncorrected}
	for _, l := range []*Latency{s.Connect, s.FirstByte, s.FirstByteUncorrected} {
		if l != nil {
			ls = append(ls, l)
		}
	}
	return ls
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

// requestedRate returns the whole load's mean requested rate over the
// measured part: the integral of its shape over the duration, divided by
// it; for a run bounded by a request count, the count divided by the time
// by which the shape has made that many due (the rate itself for a
// constant one).
func (c Config) requestedRate() float64 {
	switch {
	case c.Rate.IsZero() || c.Rate.IsConstant():
		return c.Rate.First()
	case c.Duration > 0:
		return c.Rate.MeanRate(c.Duration)
	}
	t := c.Rate.Due(c.Requests)
	if t <= 0 || t == math.MaxInt64 {
		return c.Rate.First()
	}
	return float64(c.Requests) / t.Seconds()
}
