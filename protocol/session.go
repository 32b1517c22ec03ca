// Package protocol holds socklab's protocols, each written once as a sans-I/O
// state machine.
//
// A server-side Session is fed events (the connection opened, bytes arrived,
// the peer half-closed, a wake-up came) and answers by appending bytes to an
// output buffer and returning a Step: whether to close once the output is
// flushed, when it next wants to be woken, and whether it has more output to
// produce once the buffer drains. A Session never touches a socket, a
// goroutine or a clock it was not handed, so every concurrency model in
// package targets drives the very same protocol code, and a protocol bug is
// fixed once.
//
// The client side of each protocol (Protocol.NewClient) says what a client
// sends and what a correct answer is; the specs and the load generator use
// it.
//
// The protocols, one file each (and a _client.go file for the larger client
// sides): echo, hello, ack, banner, poetry, http and file. The line-framed
// ones share one splitter (lines.go): a line ends in "\n", a "\r" before it is
// dropped, a line over Options.MaxLine is refused with one "error: …" line
// and an orderly close, an unfinished last line at EOF is still a line, and
// input after a close is ignored. Two optional interfaces complete the
// contracts for drivers: Releaser (sessions holding files: call Release when
// the connection ends, whatever the reason) and Replier (matchers of
// lock-step exchanges: send what Reply hands out).
package protocol

import (
	"bytes"
	"time"
)

// Session is the server side of one stream connection.
//
// The driver calls Open once, then Data, EOF and Wake in any order the
// connection produces them, from one goroutine at a time. Each call appends
// what must be sent to out (the driver owns out and sends it, completing
// partial writes) and returns the Step that says what to do next. Once a Step
// has Close set, the driver makes no further calls except Wake while More is
// set.
type Session interface {
	// Open is called once, when the connection is established.
	Open(now time.Time, out *bytes.Buffer) Step
	// Data handles bytes received from the peer. The session consumes all
	// of in; it may keep a bounded part of it buffered (an unfinished line).
	Data(in []byte, now time.Time, out *bytes.Buffer) Step
	// EOF handles the peer's half-close: recv returned 0 on a stream.
	EOF(now time.Time, out *bytes.Buffer) Step
	// Wake is called at or after the WakeAt of the last Step, and when the
	// last Step had More set and out has drained below LowWater. Spurious
	// calls are allowed and must be harmless.
	Wake(now time.Time, out *bytes.Buffer) Step
}

// Step is a session's answer to one event.
type Step struct {
	// Close asks for an orderly close once out is flushed: shut down the
	// write side (FIN), drain what the peer still sends, then close. It is
	// never a reset: closing with unread input would send RST and can
	// destroy the reply.
	Close bool
	// WakeAt, when not zero, is when the session wants Wake to be called
	// (the poetry protocol's line delay).
	WakeAt time.Time
	// More says the session has more output to produce (a large file, or
	// the answers to input it holds because it already owes HighWater
	// bytes) and wants Wake once out has drained below LowWater. Output is
	// produced lazily so that memory stays bounded whatever the reply's
	// size. The driver reads nothing more from the peer while More is set.
	More bool
	// Partial says the input holds the start of a request whose end has
	// not arrived: an unfinished command line, an HTTP head without its
	// blank line. The driver's request timeout runs from the first byte of
	// such a request to its end, as net/http's ReadHeaderTimeout does. The
	// body of a request (a put's bytes) is not Partial: it is bounded by
	// the idle timeout, as long as bytes keep coming.
	Partial bool
}

// Output buffer water marks shared by every driver. A driver stops reading
// from a connection while its output buffer holds HighWater bytes or more,
// and while the session has More output; it asks a session with More for
// output below LowWater. A session answers the requests of one read only
// while it owes less than HighWater: past it, it holds the rest of the input
// and asks for More (a read of 64 KiB of empty lines is 2 MiB of ack
// replies). So a client that sends without reading costs a connection at
// most HighWater and one reply (one read, for echo) of output, one read of
// input and one unfinished line: a few hundred KiB, where the kernel's
// socket buffers hold the bulk of what is in flight.
const (
	LowWater  = 64 << 10
	HighWater = 128 << 10
)

// DefaultMaxLine is the default longest line a line-framed protocol accepts,
// excluding its terminator.
const DefaultMaxLine = 64 << 10

// Merge combines a step with the one after it: the result closes if either
// closes, wants more if either does, is partial if the later one is (a
// request that was under way may have ended), and wakes at the earlier
// non-zero time.
func (s Step) Merge(o Step) Step {
	r := Step{Close: s.Close || o.Close, More: s.More || o.More, Partial: o.Partial, WakeAt: s.WakeAt}
	if r.WakeAt.IsZero() || (!o.WakeAt.IsZero() && o.WakeAt.Before(r.WakeAt)) {
		r.WakeAt = o.WakeAt
	}
	return r
}

// Releaser is implemented by sessions that hold resources outside memory
// (the file protocol's open files and unfinished uploads). A session
// releases them itself when it closes in order, but a connection can also
// end by a reset, an I/O error or a server shutdown without the session
// seeing EOF or returning Close. So drivers call Release once the
// connection ends, whatever the reason, after the last other call; Release
// is idempotent and makes no further output.
type Releaser interface {
	Release()
}
