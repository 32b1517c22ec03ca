package protocol

import (
	"bytes"
	"errors"
	"fmt"
)

// Client is the client side of a protocol: what a client sends and what a
// correct answer is. The specs and the load generator drive servers with it.
// A Client is not safe for concurrent use; make one per connection.
type Client interface {
	// Greeting returns a Matcher for what the server sends as soon as the
	// connection opens, before any request, or nil if it sends nothing.
	Greeting() Matcher
	// Next appends the seq-th request of this connection to dst and returns
	// the new slice and the Matcher of its reply. A protocol whose whole
	// exchange is one server stream (banner, poetry) returns no request
	// bytes and a Matcher that completes at EOF.
	Next(dst []byte, seq uint64) ([]byte, Matcher)
}

// Matcher checks one reply as its bytes arrive.
type Matcher interface {
	// Match consumes a prefix of p, the reply bytes received so far and not
	// yet consumed, and reports how many bytes it consumed and whether the
	// reply is complete. eof says the server closed its side after p. It
	// returns an error wrapping ErrWrongReply if the bytes cannot be a
	// correct reply, or ErrShortReply if eof came before the reply was
	// complete.
	Match(p []byte, eof bool) (n int, done bool, err error)
}

// Reply errors, by class. The load generator counts errors by these classes.
var (
	ErrWrongReply = errors.New("wrong reply")
	ErrShortReply = errors.New("short reply")
	// ErrRefused is a reply that is a well-formed refusal (a file
	// protocol "no…", an HTTP error status).
	ErrRefused = errors.New("refused by server")
)

// Farewell is implemented by a Client whose protocol lets the client ask
// the server to end the connection, with no reply but the server's close
// (hello's exit line). A load generator that wants the server to close
// first, so that TCP's TIME_WAIT lands on the server and not on one of the
// client's ephemeral ports, sends it after its last reply and waits for the
// server's close.
type Farewell interface {
	// Farewell appends the bytes that ask the server to close to dst.
	Farewell(dst []byte) []byte
}

// ConnectionCloser is implemented by a Matcher of a protocol whose server
// may end a persistent connection after a reply, as HTTP/1.1 allows with
// Connection: close (nginx does so after keepalive_requests). Once a
// completed reply closes the connection, the requests sent after it on that
// connection were not lost: a client sends them again on a new one.
type ConnectionCloser interface {
	ClosesConnection() bool
}

// ClosesConnection reports whether the completed reply that m matched ends
// its connection (see ConnectionCloser).
func ClosesConnection(m Matcher) bool {
	cc, ok := m.(ConnectionCloser)
	return ok && cc.ClosesConnection()
}

// Replier is implemented by a Matcher whose exchange needs the client to
// send more bytes part-way through the reply: the file protocol's get is
// lock-step (get>NAME, then yes:SIZE, then the client's ok, then the bytes).
// A driver that finds a Replier calls Reply after every Match call that did
// not fail, the one that completes included (a get of an empty file is done
// at yes:0, yet the server still waits for its ok), and sends what Reply
// appended to dst, if anything, before waiting for more reply bytes or
// sending the next request. Reply hands out each byte
// once. Drivers that ignore Replier cannot drive such a protocol: its reply
// stalls until their timeout.
type Replier interface {
	Reply(dst []byte) []byte
}

// MessageMatcher reads one message of a server's under a framing, whatever
// it says: a line up to its "\n" (the "\r" before it dropped) under Line,
// and under Raw the bytes one read returned, since nothing else ends a raw
// message. Message returns it once Match reported done. A message longer
// than max bytes is a wrong reply.
type MessageMatcher struct {
	f   Framing
	max int
	msg []byte
}

// NewMessageMatcher returns a MessageMatcher for messages of at most max
// bytes (DefaultMaxLine if max is not positive).
func NewMessageMatcher(f Framing, max int) *MessageMatcher {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &MessageMatcher{f: f, max: max}
}

// Match implements Matcher.
func (m *MessageMatcher) Match(p []byte, eof bool) (int, bool, error) {
	n, end := len(p), len(p)
	if m.f == Line {
		if n = bytes.IndexByte(p, '\n'); n < 0 {
			n = len(p) // no whole line yet
		} else {
			end = n + 1
		}
	}
	switch {
	case n > m.max:
		return 0, false, fmt.Errorf("%w: a message longer than %d bytes", ErrWrongReply, m.max)
	case m.f == Line && n == len(p), m.f == Raw && n == 0:
		if eof {
			return 0, false, fmt.Errorf("%w: EOF before a whole message", ErrShortReply)
		}
		return 0, false, nil
	}
	msg := p[:n]
	if m.f == Line {
		msg = bytes.TrimSuffix(msg, []byte{'\r'})
	}
	m.msg = append(m.msg[:0], msg...)
	return end, true, nil
}

// Message returns the message matched last.
func (m *MessageMatcher) Message() []byte { return m.msg }
