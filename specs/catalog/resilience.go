package catalog

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// Resilience sizes.
const (
	abandonedBytes = 4 << 20
	// abandonWait bounds how long abandoned-reply waits for its reply to
	// start arriving before it closes without reading it: closing with
	// the reply unread resets the connection, so the server meets the
	// abandonment at once (wire.Conn.AwaitUnread).
	abandonWait = 2 * time.Second
	churnCycles = 1000
	// churnCyclesShort is the count for a reference target whose churn
	// says nothing new: descriptor leaks belong to the model, which the
	// echo target of the same model runs with the full count, and the fork
	// model spends a process per connection.
	churnCyclesShort = 100
	churnBudget      = 30 * time.Second
	// cutOffsets is how many offsets of a request, and of a reply,
	// cut-mid-stream ends a connection at (every offset of a shorter one).
	cutOffsets      = 64
	cutOffsetsShort = 16
	// cutSettle is how long a cut waits for the server's close.
	cutSettle = 100 * time.Millisecond
)

// resilienceSpecs: clients that misbehave, then many short connections.
// They run last, churn at the very end: a server that an error kills or
// that runs out of descriptors fails every behaviour after it.
func init() {
	behave("abandoned-reply", func(s *spec) {
		c := connect(s)
		switch {
		case s.isOneWay():
			// Read the first bytes of the stream, then leave with
			// its next bytes unread (if it goes on).
			_, _, _ = c.ReadUntilClosed(50 * time.Millisecond)
			c.AwaitUnread(abandonWait)
		case s.Protocol == "echo":
			c.WriteAsync(protocol.AppendPattern(nil, abandonedBytes, 3))
			c.AwaitUnread(abandonWait)
		case s.Protocol == "file":
			fileAbandon(s, c)
		case s.raw():
			s.skip("abandoned-reply needs a large reply; under raw framing only echo and file can be asked for one in one message")
		default:
			all, _, _ := pipelineBatch(s)
			c.WriteAsync(all)
			c.AwaitUnread(abandonWait)
		}
		s.check(c.Close(), "the client to close", "")
		servedFresh(s, "a client closed without reading its reply")
	})

	behave("reset-survival", func(s *spec) {
		// Mid-request: half a request, then RST.
		c := connect(s)
		if !s.isOneWay() {
			req, _ := c.next()
			s.check(c.Write(req[:max(1, len(req)/2)]), "half a request to be sent", "the server closed the connection")
		}
		s.check(c.Reset(), "a reset (SO_LINGER 0)", "")
		servedFresh(s, "a client reset mid-request")
		// Mid-reply: requests whose answers are still in flight, then RST.
		c = connect(s)
		if !s.isOneWay() {
			if s.raw() {
				req, _ := c.next()
				s.check(c.Write(req), "a request to be sent", "the server closed the connection")
			} else {
				all, _, _ := pipelineBatch(s)
				s.check(c.Write(all[:min(len(all), 64<<10)]), "requests to be sent", "the server closed the connection")
			}
			time.Sleep(10 * time.Millisecond) // let the answers start; the outcome does not depend on it
		}
		s.check(c.Reset(), "a reset (SO_LINGER 0)", "")
		servedFresh(s, "a client reset mid-reply")
	})

	behave("cut-mid-stream", func(s *spec) {
		// toxiproxy's limit_data: the connection ends after k bytes, at
		// every k. Mid-request the server reads part of a request, then
		// EOF; mid-reply its client half-closes while it answers.
		// reset-survival is the same with RST.
		limit := cutOffsets
		if s.short() {
			limit = cutOffsetsShort
		}
		var req []byte
		var replyLen int
		c := connect(s)
		if s.isOneWay() {
			m := &counting{m: protocol.NewMessageMatcher(s.framing(), 0)}
			s.check(c.Expect(m), "the first message of the stream", "the server stopped serving")
			replyLen = m.n
		} else {
			// It cuts a request and its answer: a server that fails
			// roundtrip would fail here for the same defect.
			skipAfterFailure(s, "roundtrip")
			var m protocol.Matcher
			req, m = c.next()
			cm := &counting{m: m}
			s.check(c.Write(req), "the request to be sent", "the server closed the connection")
			s.check(c.Expect(cm), "the answer to "+quote(req), "the server stopped answering")
			replyLen = cm.n
		}
		c.Close()
		reqAt, replyAt := offsets(len(req), limit), offsets(replyLen, limit)
		s.note("offsets", fmt.Sprintf("the connection ended at %d of the request's %d offsets and after %d of the reply's %d", len(reqAt), len(req), len(replyAt), replyLen))
		after := "a whole exchange" // the cut before this one, which a failure names
		// Each cut waits for the server to close the connection, as it
		// does once its client has half-closed: the cuts then come one
		// after another as the server takes them, never faster than a
		// small listen backlog holds. A server that does not close (a
		// stream that goes on, or close-on-eof's defect) is not waited
		// for again.
		paced := true
		cutClose := func(c *client) {
			_ = c.CloseWrite()
			if paced {
				if ending, _, _ := c.ReadUntilClosed(cutSettle); ending == wire.StillOpen {
					paced = false
					s.note("not paced", fmt.Sprintf("the server did not close within %v of its client's FIN (%s): the cuts after it did not wait for its close", cutSettle, after))
				}
			}
			_ = c.Close()
		}
		next := func(what string) *client {
			c, err := tryConnect(s)
			if err != nil {
				s.failf("a new client greeted after "+after, err.Error(),
					"the server died or stopped accepting when a client's connection ended there: an unhandled exception on a truncated request or on EOF mid-reply (a parse of a partial line, a send after the peer left)")
			}
			after = what
			return c
		}
		for _, k := range reqAt {
			c := next(fmt.Sprintf("a client's connection ended (FIN) after %d bytes of its request", k))
			if k > 0 {
				s.check(c.Write(req[:k]), "part of the request to be sent", "the server closed the connection")
			}
			cutClose(c)
		}
		for _, k := range replyAt {
			c := next(fmt.Sprintf("a client's connection ended (FIN) after %d bytes of its reply", k))
			var m protocol.Matcher = protocol.NewMessageMatcher(s.framing(), 0)
			if !s.isOneWay() {
				var r []byte
				r, m = c.next()
				s.check(c.Write(r), "the request to be sent", "the server closed the connection")
			}
			if err := c.Expect(&cutAt{m: m, k: k}); err != nil {
				s.failf(fmt.Sprintf("the first %d bytes of the reply to a client after %s", k, after), err.Error(),
					"the server stopped answering when a client's connection ended there")
			}
			cutClose(c)
		}
		// Each cut's effect showed on the next client; the last one's
		// on this one (and on the liveness probe after the behaviour).
		servedFreshOnce(s, after)
	})

	behave("connection-churn", func(s *spec) {
		cycles := churnCycles
		if s.short() {
			cycles = churnCyclesShort
			s.note("cycles", fmt.Sprintf("%d cycles: descriptor leaks belong to the model, whose echo target runs the full %d (the fork model spends a process per connection, so it runs %d there too)", cycles, churnCycles, churnCyclesShort))
		}
		if s.isOneWay() {
			s.note("one-way", "each cycle reads the first message of the stream, then closes")
		}
		// A bound on the whole loop (each step has its own timeout too):
		// generous, so that a slow machine never fails it, yet a server
		// that takes a second per message (time.sleep(1)) does.
		start := time.Now()
		budget := max(churnBudget, time.Duration(cycles)*50*time.Millisecond)
		for i := 0; i < cycles; i++ {
			if elapsed := time.Since(start); elapsed > budget {
				s.failf(fmt.Sprintf("%d connect/request/close cycles within %s", cycles, budget),
					fmt.Sprintf("only %d done in %s (%s a cycle)", i, elapsed.Round(time.Millisecond), (elapsed/time.Duration(max(i, 1))).Round(time.Millisecond)),
					"the server delays every reply (a sleep per message), or slows down as connections accumulate (descriptors or threads never released)")
			}
			err := churnOnce(s)
			if err != nil {
				s.failf(fmt.Sprintf("%d connect/request/close cycles, all served", cycles),
					fmt.Sprintf("cycle %d failed: %v", i+1, err),
					"the server leaks a descriptor (or a thread, a slot) per connection and runs out: a socket shut down but never closed, or a close missed on one path")
			}
		}
	})
}

// churnOnce is one connect/request/close cycle.
func churnOnce(s *spec) error {
	c, err := tryConnect(s)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.isOneWay() {
		// The stream's content is greeting's and stream-complete's
		// business; a churn cycle reads its first message.
		_, err := c.message()
		return err
	}
	return c.roundtrip()
}

// offsets returns the offsets 0 to n-1, or limit of them spread evenly over
// that range, the first and the last included.
func offsets(n, limit int) []int {
	k := min(n, limit)
	out := make([]int, k)
	for i := range out {
		out[i] = i
		if n > limit {
			out[i] = i * (n - 1) / (limit - 1)
		}
	}
	return out
}

// counting is a matcher that counts the bytes m consumed: the length of a
// reply.
type counting struct {
	m protocol.Matcher
	n int
}

func (c *counting) Match(p []byte, eof bool) (int, bool, error) {
	n, done, err := c.m.Match(p, eof)
	c.n += n
	return n, done, err
}

// Reply passes on what m asks the client to send (the file protocol's ok).
func (c *counting) Reply(dst []byte) []byte { return reply(c.m, dst) }

// cutAt is a matcher that is done once k bytes of the reply have arrived;
// until then m matches them (and asks for what the client must send).
type cutAt struct {
	m    protocol.Matcher
	k, n int
}

func (c *cutAt) Match(p []byte, eof bool) (int, bool, error) {
	if c.n+len(p) >= c.k {
		return 0, true, nil
	}
	n, done, err := c.m.Match(p, eof)
	c.n += n
	return n, done, err
}

// Reply passes on what m asks the client to send.
func (c *cutAt) Reply(dst []byte) []byte { return reply(c.m, dst) }

// reply appends what a Replier matcher asks the client to send.
func reply(m protocol.Matcher, dst []byte) []byte {
	if r, ok := m.(protocol.Replier); ok {
		return r.Reply(dst)
	}
	return dst
}
