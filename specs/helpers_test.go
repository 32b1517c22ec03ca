package specs_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// failf fails the spec with the h2spec-style message: what was expected,
// what happened, and what in a server usually causes it.
func failf(expected, actual, cause string) {
	Fail(fmt.Sprintf("expected: %s\nactual:   %s\nusual cause: %s", expected, actual, cause), 1)
}

// check fails the spec if err is not nil.
func check(err error, expected, cause string) {
	if err != nil {
		failf(expected, err.Error(), cause)
	}
}

// client is one spec client of tg: a connection and the protocol's client
// side, which says what to send and what a correct answer is.
type client struct {
	*wire.Conn
	tg  *target
	pc  protocol.Client
	seq uint64
}

// newProtocolClient returns the protocol's client side for tg.
func newProtocolClient(tg *target, o protocol.ClientOptions) protocol.Client {
	p, err := protocol.Lookup(tg.protocol)
	if err != nil {
		Fail(err.Error())
	}
	o.Options = tg.opts
	if o.Name == "" && tg.protocol == "file" {
		o.Name = fixtureName
	}
	pc, err := p.NewClient(o)
	if err != nil {
		Fail(fmt.Sprintf("%s client: %v", tg.protocol, err))
	}
	return pc
}

// connect dials tg and reads its greeting, if the protocol has one. The
// connection is closed when the spec ends.
func connect(tg *target) *client {
	c := connectNoGreeting(tg)
	c.greeting()
	return c
}

// connectNoGreeting dials tg without reading the greeting.
func connectNoGreeting(tg *target) *client {
	return dialClient(tg, protocol.ClientOptions{})
}

func dialClient(tg *target, o protocol.ClientOptions) *client {
	conn, err := wire.Dial(tg.network, tg.addr, tg.timeout)
	check(err, "a connection to "+tg.addr, "the server is not listening or its backlog is full")
	DeferCleanup(func() { _ = conn.Close() })
	return &client{Conn: conn, tg: tg, pc: newProtocolClient(tg, o)}
}

// tryConnect is connect that returns the error instead of failing.
func tryConnect(tg *target) (*client, error) {
	conn, err := wire.Dial(tg.network, tg.addr, tg.timeout)
	if err != nil {
		return nil, err
	}
	c := &client{Conn: conn, tg: tg, pc: newProtocolClient(tg, protocol.ClientOptions{})}
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
		check(c.Expect(m), "the protocol's greeting on connect", "the server does not send its greeting first, or sends it late")
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
	m := protocol.NewMessageMatcher(c.tg.framing(), 0)
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
	if !c.tg.raw() {
		return nil
	}
	return c.Settle(4*c.tg.timeout, rawSettlePause)
}

// mustRoundtrip is roundtrip that fails the spec.
func (c *client) mustRoundtrip(what string) {
	check(c.roundtrip(), what+" gets the protocol's answer", "the server stopped answering")
}

// afterEffect is how long servedFresh waits before its second look: a
// server acts on a reset or an abandoned reply asynchronously, and a crash
// it causes may come a moment after the first fresh client was served.
const afterEffect = 250 * time.Millisecond

// servedFresh checks that a new client is served: the server survived
// what the spec did before. It looks at once and again a moment later.
func servedFresh(tg *target, after string) {
	servedFreshOnce(tg, after)
	time.Sleep(afterEffect)
	servedFreshOnce(tg, after)
}

func servedFreshOnce(tg *target, after string) {
	c, err := tryConnect(tg)
	if err != nil {
		failf("a new client to be served after "+after, err.Error(), "the server's accept loop or process died with that connection")
	}
	defer c.Close()
	if tg.oneWay {
		_, err := c.message()
		check(err, "a new client to get the first message of its stream after "+after, "the server stopped serving")
		return
	}
	if err := c.roundtrip(); err != nil {
		failf("a new client to be served after "+after, err.Error(), "an error on one connection stopped the server (an unhandled exception in the accept loop)")
	}
}

// skipIfRaw skips a behaviour that needs line framing.
func skipIfRaw(tg *target, id string) {
	if tg.raw() {
		Skip(id + " needs line framing; under raw framing the suite sends one message per send and waits for its answer")
	}
}

// skipIfOneWay skips a behaviour about requests for a protocol that has
// none.
func skipIfOneWay(tg *target, id, instead string) {
	if tg.oneWay {
		Skip(fmt.Sprintf("%s is about requests; the %s protocol sends one stream and closes (see %s)", id, tg.protocol, instead))
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
