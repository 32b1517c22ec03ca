package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
)

// A load larger than one machine is N processes, each a shard of one
// schedule (Config.Shard of Config.Shards), started at one instant
// (Config.StartAt), whose results merge without loss (package reports). The
// configuration stays the whole load's in every shard: Connections, Rate and
// Requests are the whole load's, and each shard runs its share of them (see
// share). In the open loop the one schedule's request j is due where the
// integral of the rate shape reaches j (see runner.dueAt), sent by shard
// j mod N; a shard's
// requests go round its connections in turn. So the N shards together issue
// exactly the requests one process would, at the same due times, never in
// phase.

// ShardInfo says which part of a sharded load a run was (summary.json).
type ShardInfo struct {
	Index int    `json:"index"`
	Count int    `json:"count"`
	Host  string `json:"host"`
}

// ShardRow is one shard's figures in the merge of a sharded load
// (summary.json's shards): what it was asked for and what it did.
type ShardRow struct {
	Index         int     `json:"index"`
	Host          string  `json:"host"`
	Tag           string  `json:"tag,omitempty"`
	Connections   int     `json:"connections"`
	RequestedRate float64 `json:"requested_rate"`
	AchievedRate  float64 `json:"achieved_rate"`
	Requests      int64   `json:"requests"`
	Late          int64   `json:"late"`
	Failed        int64   `json:"failed"`
	Unsent        int64   `json:"unsent"`
	Unfinished    int64   `json:"unfinished"`
	StartOffsetUs float64 `json:"start_offset_us,omitempty"`
	// Problems says what made the shard fail, if it did.
	Problems []string `json:"problems,omitempty"`
}

// DefaultStartTolerance is how late after Config.StartAt a run may still
// start when Config.StartTolerance is zero: past it the run refuses.
const DefaultStartTolerance = time.Second

// MaxStartWait bounds how far ahead Config.StartAt may be: a start a day
// away is a typo, not a plan.
const MaxStartWait = 24 * time.Hour

// ErrLateStart is returned by Run for a run that reached its StartAt more
// than its StartTolerance late: it would not be part of the same load as
// the shards that started on time, so it does not run.
var ErrLateStart = errors.New("started late")

// definition is what defines a load, in a fixed order: what a shard's
// configuration must share with the others' for their results to be one
// load's. It leaves out what differs between shards or says how, not what,
// to load: the shard's index, its host, its tag, where its files go, when
// it starts, the engine and its threads, progress reports.
type definition struct {
	Network        string                 `json:"network"`
	Addr           string                 `json:"addr"`
	Protocol       string                 `json:"protocol"`
	Client         protocol.ClientOptions `json:"client"`
	Connections    int                    `json:"connections"`
	Pipeline       int                    `json:"pipeline"`
	Rate           float64                `json:"rate"`
	Shape          string                 `json:"shape,omitempty"`
	Reconnect      bool                   `json:"reconnect"`
	PerConn        int                    `json:"per_conn,omitempty"`
	Close          string                 `json:"close,omitempty"`
	NoReply        bool                   `json:"no_reply"`
	Duration       time.Duration          `json:"duration"`
	Requests       int64                  `json:"requests"`
	Warmup         time.Duration          `json:"warmup"`
	Timeout        time.Duration          `json:"timeout"`
	ConnectTimeout time.Duration          `json:"connect_timeout"`
	Grace          time.Duration          `json:"grace"`
	Shards         int                    `json:"shards"`
}

// Hash returns the hash of what defines c's load (hex SHA-256 of its
// canonical JSON): the same for every shard of one run, whatever their
// index, host, tag, output or start, and different for another load. A
// merge of runs takes only runs of one hash.
func (c Config) Hash() string {
	client := c.Client
	if c.Protocol == "echo" && client.Size == 0 {
		client.Size = defaultEchoSize
	}
	d := definition{
		Network: c.Network, Addr: c.Addr, Protocol: c.Protocol, Client: client,
		Connections: c.Connections, Pipeline: c.Pipeline,
		Reconnect: c.Reconnect, PerConn: c.PerConn, Close: c.Close, NoReply: c.NoReply,
		Duration: c.Duration, Requests: c.Requests, Warmup: c.Warmup,
		Timeout: c.Timeout, ConnectTimeout: c.ConnectTimeout, Grace: c.Grace,
		Shards: max(c.Shards, 1),
	}
	// A constant rate is a number, as it was before shapes; another
	// shape its text.
	if c.Rate.IsConstant() {
		d.Rate = c.Rate.First()
	} else {
		d.Shape = c.Rate.String()
	}
	b, err := json.Marshal(d)
	if err != nil {
		// Every field is a plain value that encodes.
		panic(fmt.Sprintf("loadgen: encode load definition: %v", err))
	}
	sum := sha256.Sum256(append([]byte("socklab load definition 1\n"), b...))
	return hex.EncodeToString(sum[:])
}

// defaultEchoSize is the echo payload size when none is given.
const defaultEchoSize = 64

// sharded reports whether c is one shard of several.
func (c Config) sharded() bool { return c.Shards > 1 }

// shareOf returns shard i of n's share of total things dealt in turn: the
// first total mod n shards take one more.
func shareOf(total int64, i, n int) int64 {
	if n <= 1 {
		return total
	}
	s := total / int64(n)
	if int64(i) < total%int64(n) {
		s++
	}
	return s
}

// share returns the configuration a shard's runner works with: its share
// of the connections (and at most as many threads). The rest stays the
// whole load's: the rate, of whose one schedule the shard sends its part,
// and the request count, which the exchange deals out (exchange.init).
func (c Config) share() Config {
	if !c.sharded() {
		return c
	}
	c.Connections = int(shareOf(int64(c.Connections), c.Shard, c.Shards))
	c.Threads = min(c.Threads, max(c.Connections, 1))
	return c
}

// checkShard validates c's shard and start.
func (c Config) checkShard() error {
	switch {
	case c.Shards < 0:
		return fmt.Errorf("%w: %d shards: must be positive", ErrConfig, c.Shards)
	case c.Shards > 1 && (c.Shard < 0 || c.Shard >= c.Shards):
		return fmt.Errorf("%w: shard %d of %d: the index goes from 0 to %d", ErrConfig, c.Shard, c.Shards, c.Shards-1)
	case c.Shards <= 1 && c.Shard != 0:
		return fmt.Errorf("%w: shard %d of %d", ErrConfig, c.Shard, max(c.Shards, 1))
	case c.Shards > c.Connections:
		return fmt.Errorf("%w: %d shards of %d connections: each shard needs one at least", ErrConfig, c.Shards, c.Connections)
	case c.Requests > 0 && int64(c.Shards) > c.Requests:
		return fmt.Errorf("%w: %d shards of %d requests: each shard needs one at least", ErrConfig, c.Shards, c.Requests)
	case c.StartTolerance < 0:
		return fmt.Errorf("%w: start tolerance %v: must be positive", ErrConfig, c.StartTolerance)
	}
	return nil
}

// waitStart waits until at by this host's clock and returns at on the
// monotonic clock (the origin of the run's schedule) and how late it woke:
// at most tolerance, or ErrLateStart; or ctx's error if ctx ends first. A
// start more than MaxStartWait away is refused at once.
func waitStart(ctx context.Context, at time.Time, tolerance time.Duration) (time.Time, time.Duration, error) {
	// The start is a wall-clock instant, shared with other hosts: a
	// monotonic reading it may carry (time.Now().Add(d)) is this process's
	// alone, so it is dropped, and every comparison below is of wall
	// clocks.
	at = at.Round(0)
	if d := time.Until(at); d > MaxStartWait {
		return time.Time{}, 0, fmt.Errorf("%w: start at %s is %v away, more than %v", ErrConfig, at.Format(time.RFC3339), d.Round(time.Second), MaxStartWait)
	}
	// A timer runs on the monotonic clock, at on the wall clock: if the
	// wall clock is stepped meanwhile, wait again for what is left (a
	// bounded number of times).
	for range 10 {
		d := time.Until(at)
		if d <= 0 {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, 0, fmt.Errorf("waiting for the start at %s: %w", at.UTC().Format(time.RFC3339Nano), ctx.Err())
		}
	}
	now := time.Now()
	late := now.Sub(at)
	if late > tolerance {
		return time.Time{}, late, fmt.Errorf("%w: %v after the start at %s, more than the tolerance of %v: a shard that runs late is not part of the same load",
			ErrLateStart, late.Round(time.Millisecond), at.UTC().Format(time.RFC3339Nano), tolerance)
	}
	// now's monotonic reading, less how late it is: at, on the clock the
	// run's timestamps are taken from.
	return now.Add(-late), late, nil
}
