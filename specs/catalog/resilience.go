package catalog

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
)

// Resilience sizes.
const (
	abandonedBytes = 4 << 20
	churnCycles    = 1000
	// churnCyclesShort is the count for a reference target whose churn
	// says nothing new: descriptor leaks belong to the model, which the
	// echo target of the same model runs with the full count, and the fork
	// model spends a process per connection.
	churnCyclesShort = 100
	churnBudget      = 30 * time.Second
)

// resilienceSpecs: clients that misbehave, then many short connections.
// They run last, churn at the very end: a server that an error kills or
// that runs out of descriptors fails every behaviour after it.
func init() {
	behave("abandoned-reply", func(s *spec) {
		c := connect(s)
		switch {
		case s.isOneWay():
			// Read the first bytes of the stream, then leave.
			_, _, _ = c.ReadUntilClosed(50 * time.Millisecond)
		case s.Protocol == "echo":
			c.WriteAsync(protocol.AppendPattern(nil, abandonedBytes, 3))
			time.Sleep(50 * time.Millisecond)
		case s.Protocol == "file":
			fileAbandon(s, c)
		case s.raw():
			s.skip("abandoned-reply needs a large reply; under raw framing only echo and file can be asked for one in one message")
		default:
			all, _, _ := pipelineBatch(s)
			c.WriteAsync(all)
			time.Sleep(50 * time.Millisecond)
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

	behave("connection-churn", func(s *spec) {
		cycles := churnCycles
		if !s.External && (s.Protocol != "echo" || s.Model == "fork") {
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
