package catalog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// failf fails the spec with the h2spec-style message: what was expected,
// what happened, and what in a server usually causes it.
func (s *spec) failf(expected, actual, cause string) {
	s.fatal(fmt.Sprintf("expected: %s\nactual:   %s\nusual cause: %s", expected, actual, cause))
}

// check fails the spec if err is not nil.
func (s *spec) check(err error, expected, cause string) {
	if err != nil {
		s.failf(expected, err.Error(), cause)
	}
}

// client is one spec client of tg: a connection and the protocol's client
// side, which says what to send and what a correct answer is.
type client struct {
	*wire.Conn
	s   *spec
	pc  protocol.Client
	seq uint64
}

// newProtocolClient returns the protocol's client side for s.
func newProtocolClient(s *spec, o protocol.ClientOptions) protocol.Client {
	p, err := protocol.Lookup(s.Protocol)
	if err != nil {
		s.fatal(err.Error())
	}
	o.Options = s.Options
	if o.Name == "" && s.Protocol == "file" {
		o.Name = fixtureName
	}
	pc, err := p.NewClient(o)
	if err != nil {
		s.fatal(fmt.Sprintf("%s client: %v", s.Protocol, err))
	}
	return pc
}

// connect dials tg and reads its greeting, if the protocol has one. The
// connection is closed when the spec ends.
func connect(s *spec) *client {
	c := connectNoGreeting(s)
	c.greeting()
	return c
}

// connectNoGreeting dials tg without reading the greeting.
func connectNoGreeting(s *spec) *client {
	return dialClient(s, protocol.ClientOptions{})
}

func dialClient(s *spec, o protocol.ClientOptions) *client {
	conn, err := wire.Dial(s.Network, s.Addr, s.Timeout)
	s.check(err, "a connection to "+s.Addr, "the server is not listening or its backlog is full")
	s.cleanup(func() { _ = conn.Close() })
	return &client{Conn: conn, s: s, pc: newProtocolClient(s, o)}
}

// tryConnect is connect that returns the error instead of failing.
func tryConnect(s *spec) (*client, error) { return tryConnectTo(s, s.Addr) }

// tryConnectTo is tryConnect to another address of the same server (its
// IPv6 listener).
func tryConnectTo(s *spec, addr string) (*client, error) {
	return greeted(s, func() (*wire.Conn, error) { return wire.Dial(s.Network, addr, s.Timeout) })
}

// greeted dials with dial and reads the greeting, if the protocol has one.
func greeted(s *spec, dial func() (*wire.Conn, error)) (*client, error) {
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c := &client{Conn: conn, s: s, pc: newProtocolClient(s, protocol.ClientOptions{})}
	if m := c.pc.Greeting(); m != nil {
		if err := c.Expect(m); err != nil {
			conn.Close()
			return nil, fmt.Errorf("greeting: %w", err)
		}
	}
	return c, nil
}

// greeting reads the protocol's greeting, if it has one.
func (c *client) greeting() {
	if m := c.pc.Greeting(); m != nil {
		c.s.check(c.Expect(m), "the protocol's greeting on connect", "the server does not send its greeting first, or sends it late")
	}
}

// next returns the next request and the matcher of its reply.
func (c *client) next() ([]byte, protocol.Matcher) {
	req, m := c.pc.Next(nil, c.seq)
	c.seq++
	return req, m
}

// roundtrip sends the next request and checks its reply.
func (c *client) roundtrip() error {
	req, m := c.next()
	if err := c.Write(req); err != nil {
		return err
	}
	return c.Expect(m)
}

// message reads one message of the server's (a line under line framing, one
// read under raw), without its terminator.
func (c *client) message() (string, error) {
	m := protocol.NewMessageMatcher(c.s.framing(), 0)
	if err := c.Expect(m); err != nil {
		return "", err
	}
	return string(m.Message()), nil
}

// rawSettlePause is the time a raw-framing client leaves the server to
// read a message that gets no answer, once the kernel has delivered it.
const rawSettlePause = 20 * time.Millisecond

// settle, under raw framing, waits after a message that gets no answer
// (the bytes of a put, the ok of an empty get) until the server has taken
// it: the next message must not reach the server in the same read, since a
// raw server takes one read as one message. Under line framing the
// terminator keeps messages apart and settle does nothing.
func (c *client) settle() error {
	if !c.s.raw() {
		return nil
	}
	return c.Settle(4*c.s.Timeout, rawSettlePause)
}

// mustRoundtrip is roundtrip that fails the spec.
func (c *client) mustRoundtrip(what string) {
	c.s.check(c.roundtrip(), what+" gets the protocol's answer", "the server stopped answering")
}

// afterEffect is how long servedFresh waits before its second look: a
// server acts on a reset or an abandoned reply asynchronously, and a crash
// it causes may come a moment after the first fresh client was served.
const afterEffect = 250 * time.Millisecond

// servedFresh checks that a new client is served: the server survived
// what the spec did before. It looks at once and again a moment later.
func servedFresh(s *spec, after string) {
	servedFreshOnce(s, after)
	time.Sleep(afterEffect)
	servedFreshOnce(s, after)
}

func servedFreshOnce(s *spec, after string) {
	c, err := tryConnect(s)
	if err != nil {
		s.failf("a new client to be served after "+after, err.Error(), "the server's accept loop or process died with that connection")
	}
	defer c.Close()
	if s.isOneWay() {
		_, err := c.message()
		s.check(err, "a new client to get the first message of its stream after "+after, "the server stopped serving")
		return
	}
	if err := c.roundtrip(); err != nil {
		s.failf("a new client to be served after "+after, err.Error(), "an error on one connection stopped the server (an unhandled exception in the accept loop)")
	}
}

// skipIfRaw skips a behaviour that needs line framing.
func skipIfRaw(s *spec, id string) {
	if s.raw() {
		s.skip(id + " needs line framing; under raw framing the suite sends one message per send and waits for its answer")
	}
}

// skipIfOneWay skips a behaviour about requests for a protocol that has
// none.
func skipIfOneWay(s *spec, id, instead string) {
	if s.isOneWay() {
		s.skip(fmt.Sprintf("%s is about requests; the %s protocol sends one stream and closes (see %s)", id, s.Protocol, instead))
	}
}

// untilClosed reads whatever arrives until the server closes or wait passes
// (wire.Conn.ReadUntilClosed) and says how the read side ended. A server
// that sends more than the suite collects fails the behaviour, expected
// saying what was awaited.
func (c *client) untilClosed(wait time.Duration, expected string) (wire.Ending, []byte) {
	ending, got, err := c.ReadUntilClosed(wait)
	c.s.checkFlood(err, expected)
	return ending, got
}

// checkFlood fails the behaviour if err is a read past the suite's bounds
// (a wire.TooMuchError): the server sent more than any correct answer holds.
func (s *spec) checkFlood(err error, expected string) {
	var tm *wire.TooMuchError
	if errors.As(err, &tm) {
		s.failf(expected, tm.Error(), "the server sends without end: a send loop that never stops, or a length it does not keep to")
	}
}

// quote shortens and quotes bytes for a failure message.
func quote(b []byte) string {
	const max = 120
	s := fmt.Sprintf("%q", b)
	if len(s) > max {
		s = s[:max] + "…(" + fmt.Sprint(len(b)) + " bytes)"
	}
	return strings.TrimSpace(s)
}

// uniqueSuffix makes a file name that no other run shares: runs against one
// external server may overlap.
func uniqueSuffix() string {
	return fmt.Sprintf("%d-%x", os.Getpid(), rand.Uint64())
}

// short reports whether a reference target runs a behaviour's short count
// of connections: what the count proves (descriptor leaks, an accept path
// under a burst, clients held at once) belongs to the model, whose echo
// target runs the full count, and the fork model spends a process per
// connection, so it runs the short count there too. A server given by
// --addr always runs the full count.
func (s *spec) short() bool {
	return !s.External && (s.Protocol != "echo" || s.Model == "fork")
}

// skipAfterFailure skips a behaviour when one of the behaviours ids, which
// ran before it, failed: that failure's defect decides this behaviour too
// (a server that cannot hold 32 clients cannot hold 200 stalled ones), and
// one defect fails one behaviour.
func skipAfterFailure(s *spec, ids ...string) {
	for _, id := range ids {
		s.mu.Lock()
		st := s.outcomes[id]
		s.mu.Unlock()
		if st == Failed {
			s.skip(fmt.Sprintf("%s is not run: %s failed, and what fails it fails this one too", s.id, id))
		}
	}
}

// heldBeside is how many clients a behaviour may hold, stalled, beside a
// fresh one that must be served: want, or all but one slot of a declared
// capacity that is not larger; 0 when the capacity is 1. It notes the cut.
func heldBeside(s *spec, want int) int {
	if s.Capacity > 0 && s.Capacity <= want {
		s.note("capacity", fmt.Sprintf("%d clients held, not %d: the server declares a capacity of %d, and the fresh client needs a slot", s.Capacity-1, want, s.Capacity))
		return s.Capacity - 1
	}
	return want
}
