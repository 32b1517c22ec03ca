// Package loadgen drives a socket server with load and records its latency
// in HDR histograms.
//
// It speaks every protocol of package protocol from the client side, over
// tcp, unix, udp and unixgram, and checks every reply: a wrong or short reply
// is an error of its class, never a latency.
//
// Two loops are offered. In a closed loop (Config.Rate zero) each of
// Connections connections keeps Pipeline requests in flight and sends the
// next one as soon as a reply completes. In an open loop (Config.Rate a
// Shape: a constant rate, a ramp or steps) requests are due on a fixed
// schedule computed from the start of the run and the shape,
// never from the previous completion, and latency is measured from the time
// a request was due (corrected) as well as from the time it was actually sent
// (uncorrected). This is wrk2's answer to coordinated omission: a server that
// stalls for half a second delays every request due during the stall, and
// the corrected histogram shows it, where a closed loop would simply have
// sent fewer requests and hidden the stall.
//
// Every request due in the measured part is accounted for, once: answered
// (a latency), failed (an error of its class; a timeout is also recorded at
// the time it took), or left when the run stopped: unfinished if it was
// sent, unsent if it never could be (its connection busy, stalled or never
// served). No request due after the end of the run is sent; those in flight
// then, and an open loop's requests due in the last grace-length of the run
// that were held up, are given a grace (Config.Grace) to be answered, and
// what is left after it is recorded in the corrected histogram at its age,
// a lower bound of its latency. A server that serves nobody therefore shows a latency as
// long as the run, never a low percentile of the few it served.
//
// Latency is recorded in nanoseconds (1 ns to one minute, three significant
// digits) with github.com/HdrHistogram/hdrhistogram-go, one set of
// histograms per driver (an epoll thread, or a connection's goroutine),
// merged per interval and at the end.
//
// Stream connections are driven by default by the epoll engine (Linux): a
// few threads, each an epoll loop over non-blocking sockets that reads a
// socket only when epoll reports it readable, as wrk does. Datagram
// networks, and stream networks on request (Config.Engine), get the
// goroutine engine: one goroutine per connection over Go's netpoller.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/socklab/socklab/protocol"
)

// Histogram range: 1 ns to one minute at three significant digits. Longer
// values are clamped to the highest trackable value (and can only come from
// a timeout longer than a minute).
const (
	LowestNs  = 1
	HighestNs = int64(time.Minute)
	SigFigs   = 3
)

// NewHistogram returns an empty dense histogram with loadgen's geometry.
func NewHistogram() *hdr.Histogram { return hdr.New(LowestNs, HighestNs, SigFigs) }

func newPacked() *hdr.PackedHistogram { return hdr.NewPacked(LowestNs, HighestNs, SigFigs) }

// Config describes one load run.
type Config struct {
	// Network is tcp (default), tcp4, tcp6, unix, udp or unixgram.
	Network string
	// Addr is the target's address (host:port or a socket path).
	Addr string
	// Protocol is the protocol's name (default echo).
	Protocol string
	// Client configures the protocol's client side (echo size, hello name…)
	// and its framing, Line or Raw: resolve protocol.Auto with package probe
	// first.
	Client protocol.ClientOptions
	// FramingEvidence, if the framing was found by a probe, says why; it is
	// kept in the summary beside the framing.
	FramingEvidence string
	// Connections is the number of connections (default 1).
	Connections int
	// Pipeline is the number of requests in flight per connection
	// (default 1). Datagram networks take only 1.
	Pipeline int
	// Rate, when set, makes the run an open loop whose requests per second
	// in total, shared evenly between the connections, follow the shape:
	// constant, a ramp or steps (see Shape). Shape time 0 is the start of
	// the measured part: the warm-up runs at the shape's first rate, and
	// past the shape's length its last rate holds. Duration bounds the run
	// all the same: longer than the shape, it holds the last rate; shorter,
	// it cuts the shape. With neither Duration nor Requests, the run lasts
	// the shape's length.
	Rate Shape
	// Reconnect makes connections short: each carries PerConn requests,
	// then is closed (who closes first: Close) and a new one is opened.
	// The connect time and the time to the first byte the server sends
	// are recorded in histograms of their own.
	//
	// In an open loop (Rate set) the schedule is then one of connections
	// (socklab load --connect-rate): Rate connects per second in total,
	// connect j due at runner.dueAt(j), the first request on it due when
	// the connection was, each next one as soon as the pipeline allows
	// (a closed loop within the connection). The Connections are slots
	// that take the connects in turn (connect j by slot j mod
	// Connections, as requests are dealt), so at most Connections are
	// open at once; a connect due while its slot is still busy is late,
	// and its request's latency counts from the connect's due time.
	Reconnect bool
	// PerConn is the number of requests each short connection carries
	// (default 1). A positive PerConn makes connections short.
	PerConn int
	// Close says who closes a short connection first: CloseClient (the
	// default) or CloseServer.
	Close string
	// NoReply is for a server that answers nothing (the tutorial's UDP
	// server only receives): a request is complete once sent, its latency
	// is the time its send took, and any reply is an unsolicited reply
	// (wrong_reply). It is driven by the goroutine engine.
	NoReply bool
	// Duration bounds the measured part of the run (after Warmup).
	Duration time.Duration
	// Requests, when positive, bounds the run by the number of requests
	// issued after Warmup instead (shared evenly between connections).
	Requests int64
	// Warmup is run before measuring; its requests are not recorded.
	Warmup time.Duration
	// Timeout bounds each request, from when it was sent (default 5s).
	Timeout time.Duration
	// Grace is how long the requests in flight at the end of the run may
	// still be answered; no request due after the end is sent in it, and
	// the run stops as soon as nothing is in flight (default the smaller
	// of Timeout and 1s; a negative value, none). An open loop's requests
	// due in the run's last tenth (at most Grace) that could not be sent
	// yet may still be sent in it.
	Grace time.Duration
	// ConnectTimeout bounds each connect (default 2s).
	ConnectTimeout time.Duration
	// AllowRemote permits a target that is neither loopback nor Unix.
	AllowRemote bool
	// Interval is the length of one interval of the histogram log and of
	// the progress reports (default 1s).
	Interval time.Duration
	// Progress, if set, is called after each interval from a goroutine of
	// the run's own.
	Progress func(Progress)
	// Tag names the run in logs and summaries (no spaces or commas).
	Tag string
	// Engine is how connections are driven: EngineEpoll (the default for
	// stream networks on Linux) or EngineGoroutine (the only one for
	// datagram networks and elsewhere). Empty picks the default.
	Engine string
	// Threads is the number of epoll threads, each driving its share of
	// the connections (default runtime.GOMAXPROCS(0), at most Connections).
	Threads int
	// Shard and Shards make the run shard Shard (0 to Shards-1) of a load
	// run by Shards processes (see shard.go): Connections, Rate and
	// Requests stay the whole load's, and the run takes its share of them,
	// in the open loop every Shards-th due time of the one schedule,
	// offset by Shard. Shards 0 or 1 is the whole load.
	Shard, Shards int
	// StartAt, if set, is when the run starts: Run waits for it, then
	// starts the warm-up, and counts the schedule from StartAt itself. A
	// run that gets there more than StartTolerance late (default
	// DefaultStartTolerance) refuses with ErrLateStart.
	StartAt        time.Time
	StartTolerance time.Duration

	// onIssue, if set (by tests), is called with the due time of every
	// request issued, from the unit that issues it.
	onIssue func(due int64)
}

// Engines of Config.Engine.
const (
	// EngineEpoll drives many non-blocking sockets from each of a few
	// OS threads, each with its own epoll loop, as wrk does: a read is
	// made only when epoll reports the socket readable.
	EngineEpoll = "epoll"
	// EngineGoroutine drives each connection from its own goroutine with
	// blocking calls over Go's netpoller.
	EngineGoroutine = "goroutine"
)

// Who closes a short connection first (Config.Close). TCP leaves the
// connection's TIME_WAIT (60s on Linux) on the side that closes first, and a
// client's TIME_WAIT holds one of its ephemeral ports for this destination.
const (
	// CloseClient: the client closes once its requests are answered.
	CloseClient = "client"
	// CloseServer: once its requests are answered the client waits, with
	// the request timeout, for the server to close first, sending nothing
	// but the protocol's farewell if it has one (hello's exit: see
	// protocol.Farewell), and closes after it. A half-close (shutdown of
	// the write side) would not do: it sends the client's FIN first, and
	// TIME_WAIT follows the first FIN. A server that keeps the connection
	// open is an error of class NoClose.
	CloseServer = "server"
)

// Progress is a live snapshot of a running load.
type Progress struct {
	Elapsed  time.Duration // since the start of the measured part (negative in warmup)
	Requests int64         // answered requests so far
	Rate     float64       // completed requests per second in the last interval
	P99      time.Duration // corrected p99 of the requests so far
	Errors   int64         // errors so far
}

// Bad configuration errors.
var ErrConfig = errors.New("bad load configuration")

// Bounds of the echo payloads. The load generator holds every request in
// flight whole (and the epoll engine a copy of what it still has to send),
// so its memory grows with the payload size times the requests in flight.
const (
	// MaxSize is the largest echo payload: 16 MiB, the largest of the
	// behaviour catalogue's large-payload.
	MaxSize = 16 << 20
	// MaxPayloadBytes bounds size × connections × pipeline, the payload
	// bytes of the requests in flight at once.
	MaxPayloadBytes = 256 << 20
)

// CheckSize reports whether echo payloads of size bytes, on connections
// connections with pipeline requests in flight each, stay within MaxSize and
// MaxPayloadBytes.
func CheckSize(size, connections, pipeline int) error {
	switch {
	case size < 0:
		return fmt.Errorf("size %d: want a positive number of bytes", size)
	case size > MaxSize:
		return fmt.Errorf("size %d: at most %d bytes (16 MiB)", size, MaxSize)
	case int64(size)*int64(max(connections, 1))*int64(max(pipeline, 1)) > MaxPayloadBytes:
		return fmt.Errorf("size %d × %d connections × %d in flight: at most %d payload bytes in flight (256 MiB)", size, connections, pipeline, MaxPayloadBytes)
	}
	return nil
}

// Validate reports whether Run would take c, with the error Run would
// return (wrapping ErrConfig, or CheckTarget's); c is left as it is. A
// command checks its flags with it before it writes or connects anything.
func (c Config) Validate() error { return c.normalize() }

func (c *Config) normalize() error {
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Protocol == "" {
		c.Protocol = "echo"
	}
	if c.Connections == 0 {
		c.Connections = 1
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = min(c.Timeout, time.Second)
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Threads == 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	c.Threads = min(c.Threads, max(c.Connections, 1))
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.PerConn > 0 {
		c.Reconnect = true
	}
	if c.Reconnect {
		c.PerConn = max(c.PerConn, 1)
		if c.Close == "" {
			c.Close = CloseClient
		}
	}
	if c.StartTolerance == 0 {
		c.StartTolerance = DefaultStartTolerance
	}
	if c.Duration == 0 && c.Requests <= 0 {
		c.Duration = c.Rate.Length()
	}
	switch {
	case c.Addr == "":
		return fmt.Errorf("%w: no target address", ErrConfig)
	case c.Connections < 0:
		return fmt.Errorf("%w: connections %d: must be positive", ErrConfig, c.Connections)
	case c.Pipeline < 0:
		return fmt.Errorf("%w: pipeline %d: must be positive", ErrConfig, c.Pipeline)
	case c.Requests > 0 && !c.Rate.IsZero() && c.Rate.Last() == 0:
		return fmt.Errorf("%w: rate %s ends at 0: it cannot bound a run by a request count; give a duration", ErrConfig, c.Rate)
	case c.Duration <= 0 && c.Requests <= 0:
		return fmt.Errorf("%w: neither a duration nor a request count: every run must be bounded", ErrConfig)
	case c.Timeout < 0 || c.ConnectTimeout < 0 || c.Warmup < 0 || c.Interval < 0:
		return fmt.Errorf("%w: negative duration", ErrConfig)
	case c.Threads < 0:
		return fmt.Errorf("%w: threads %d: must be positive", ErrConfig, c.Threads)
	case c.PerConn < 0:
		return fmt.Errorf("%w: %d requests per connection: must be positive", ErrConfig, c.PerConn)
	case c.Close != "" && c.Close != CloseClient && c.Close != CloseServer:
		return fmt.Errorf("%w: close %q (valid: %s, %s)", ErrConfig, c.Close, CloseClient, CloseServer)
	case c.Close != "" && !c.Reconnect:
		return fmt.Errorf("%w: close %s: who closes first is chosen for short connections only", ErrConfig, c.Close)
	case c.Close == CloseServer && protocol.IsDatagram(c.Network):
		return fmt.Errorf("%w: close server over %s: a datagram socket has no close to wait for", ErrConfig, c.Network)
	case !c.Rate.IsZero() && c.PerConn > 1 && c.Requests > 0:
		return fmt.Errorf("%w: a request count with %d requests per connection in a connection-rate run: bound it by a duration", ErrConfig, c.PerConn)
	}
	if err := c.checkShard(); err != nil {
		return err
	}
	// A shard holds its own connections' requests only.
	if err := CheckSize(c.Client.Size, int(shareOf(int64(c.Connections), c.Shard, c.Shards)), c.Pipeline); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	switch c.Engine {
	case "":
		c.Engine = EngineGoroutine
		if epollAvailable && !protocol.IsDatagram(c.Network) && !c.NoReply {
			c.Engine = EngineEpoll
		}
	case EngineGoroutine:
	case EngineEpoll:
		if c.NoReply {
			return fmt.Errorf("%w: engine epoll waits for replies; a run without replies takes the goroutine engine", ErrConfig)
		}
		if !epollAvailable {
			return fmt.Errorf("%w: engine epoll: not available on this system", ErrConfig)
		}
		if protocol.IsDatagram(c.Network) {
			return fmt.Errorf("%w: engine epoll drives stream networks only, not %s", ErrConfig, c.Network)
		}
	default:
		return fmt.Errorf("%w: engine %q (valid: %s, %s)", ErrConfig, c.Engine, EngineEpoll, EngineGoroutine)
	}
	switch c.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	case "udp", "udp4", "udp6", "unixgram":
		if c.Pipeline > 1 {
			return fmt.Errorf("%w: pipeline %d over %s: datagram replies may be reordered; use 1", ErrConfig, c.Pipeline, c.Network)
		}
	default:
		return fmt.Errorf("%w: network %q (valid: tcp, tcp4, tcp6, unix, udp, unixgram)", ErrConfig, c.Network)
	}
	p, err := protocol.Lookup(c.Protocol)
	if err != nil {
		return err
	}
	if !p.RunsOver(c.Network) {
		return fmt.Errorf("%w: protocol %s does not run over %s", ErrConfig, c.Protocol, c.Network)
	}
	if _, err := p.NewClient(c.Client); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if p.Framed && c.Client.Framing == protocol.Raw && c.Pipeline > 1 {
		return fmt.Errorf("%w: pipeline %d under raw framing: a raw message has no end but the read that carries it, so raw clients are lock-step; use 1", ErrConfig, c.Pipeline)
	}
	return CheckTarget(c.Network, c.Addr, c.AllowRemote)
}

// ivHists is one worker's (or the merged) histograms of one interval.
// Packed (sparse) histograms keep a thousand connections' worth of them
// small: a dense histogram of this geometry is about 220 KB, a packed one
// grows with the number of distinct buckets hit, a few KB in practice.
type ivHists struct {
	idx          int64
	corrected    *hdr.PackedHistogram
	uncorrected  *hdr.PackedHistogram
	connect      *hdr.PackedHistogram
	firstByte    *hdr.PackedHistogram // short connections: from the connection's due time
	firstByteUnc *hdr.PackedHistogram // from the connect's start
}

func newIvHists(idx int64) *ivHists {
	return &ivHists{idx: idx, corrected: newPacked(), uncorrected: newPacked(), connect: newPacked(),
		firstByte: newPacked(), firstByteUnc: newPacked()}
}

// all returns the histograms in the order of Interval's fields.
func (h *ivHists) all() []*hdr.PackedHistogram {
	return []*hdr.PackedHistogram{h.corrected, h.uncorrected, h.connect, h.firstByte, h.firstByteUnc}
}

func (h *ivHists) merge(o *ivHists) {
	oa := o.all()
	for i, p := range h.all() {
		p.Merge(oa[i])
	}
}

func (h *ivHists) reset(idx int64) {
	h.idx = idx
	for _, p := range h.all() {
		p.Reset()
	}
}

// unit is one driver of connections: a goroutine-engine worker (one
// connection) or an epoll-engine thread (many).
type unit interface {
	// run drives the unit's connections until the run ends.
	run()
	// interrupt makes run notice a cancelled run promptly; it is called
	// from another goroutine after stop is closed.
	interrupt()
}

// runner is the state shared by a run's units. Units never write to it on
// the hot path: each keeps its own counters and histograms.
type runner struct {
	cfg     Config
	sched   Shape // the open loop's rate from base: Rate after its warm-up at the first rate
	proto   protocol.Protocol
	base    time.Time       // monotonic origin of every timestamp (ns since base)
	measure int64           // start of the measured part, ns since base
	end     int64           // end of the run (ns since base): no request due from then on is sent; max int64 for -n runs
	cutoff  int64           // end plus the grace: what is still in flight then is unfinished
	held    int64           // an open loop's requests due from then to the end and held up may still be sent in the grace
	ival    int64           // interval length in ns
	tmpdir  string          // local socket paths of unixgram clients
	dialCtx context.Context // ends at the end of the run (short connections: the cut-off); a connect still in progress then is counted
	pub     chan *ivHists
	free    chan *ivHists
	stop    chan struct{}
	units   []unit
	stats   []*stats
	// cleanups run when Run returns, once no goroutine can interrupt a unit.
	cleanups []func()
}

// Run runs the load described by cfg until its duration or request count is
// reached or ctx is cancelled, and returns the result. Errors of the target
// (refused connects, wrong replies…) are counted in the result, not
// returned; Run returns an error only for a bad configuration or a failure
// of the load generator itself.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	// The result keeps the whole load's configuration; the units drive
	// this shard's connections.
	load := cfg
	cfg = cfg.share()
	p, _ := protocol.Lookup(cfg.Protocol)
	r := &runner{
		cfg:     cfg,
		proto:   p,
		sched:   cfg.Rate.lead(int64(cfg.Warmup)),
		measure: int64(cfg.Warmup),
		ival:    int64(cfg.Interval),
		pub:     make(chan *ivHists, 4*cfg.Connections+16),
		free:    make(chan *ivHists, 4*cfg.Connections+16),
		stop:    make(chan struct{}),
	}
	if cfg.Network == "unixgram" {
		dir, err := os.MkdirTemp("", "socklab-load-")
		if err != nil {
			return nil, fmt.Errorf("load %s %s: %w", cfg.Network, cfg.Addr, err)
		}
		defer os.RemoveAll(dir)
		r.tmpdir = dir
	}
	defer func() {
		for _, f := range r.cleanups {
			f()
		}
	}()
	if cfg.Engine == EngineEpoll {
		if err := r.newEpollThreads(); err != nil {
			return nil, err
		}
	} else {
		for i := range cfg.Connections {
			w, err := newWorker(r, i)
			if err != nil {
				return nil, err
			}
			r.units = append(r.units, w)
			r.stats = append(r.stats, &w.stats)
		}
	}
	start := time.Now()
	var late time.Duration
	if !cfg.StartAt.IsZero() {
		var err error
		if start, late, err = waitStart(ctx, cfg.StartAt, cfg.StartTolerance); err != nil {
			return nil, err
		}
	}
	r.base = start
	r.end, r.cutoff, r.held = maxInt64, maxInt64, maxInt64
	r.dialCtx = ctx
	if cfg.Duration > 0 {
		r.end = r.measure + int64(cfg.Duration)
		grace := int64(max(cfg.Grace, 0))
		r.cutoff = r.end + grace
		r.held = r.end - min(grace, int64(cfg.Duration)/10)
		// A closed loop's long connection has nothing to send after the
		// end; a short connection's connect is part of its request, and
		// an open loop may still send its late requests in the grace.
		dialEnd := r.end
		if cfg.Reconnect || !cfg.Rate.IsZero() {
			dialEnd = r.cutoff
		}
		dctx, cancel := context.WithDeadline(ctx, start.Add(time.Duration(dialEnd)))
		defer cancel()
		r.dialCtx = dctx
	}

	// Cancellation: close stop and push every worker's connection deadline
	// into the past so that a blocked read returns at once.
	cancelDone := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(cancelDone)
		select {
		case <-ctx.Done():
			close(r.stop)
			for _, u := range r.units {
				u.interrupt()
			}
		case <-finished:
		}
	}()

	col := newCollector(r)
	colDone := make(chan struct{})
	go func() { defer close(colDone); col.run() }()

	var wg sync.WaitGroup
	for _, u := range r.units {
		wg.Add(1)
		go func() { defer wg.Done(); u.run() }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(finished)
	<-cancelDone
	close(r.pub)
	<-colDone
	res := col.result(start, elapsed)
	res.Config = load
	res.Host, _ = os.Hostname()
	res.StartOffset = late
	return res, nil
}
