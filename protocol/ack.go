package protocol

import (
	"bytes"
	"strconv"
	"time"
)

// AckReply is the ack server's answer to every line.
const AckReply = "Server received your message.\n"

func init() {
	register(Protocol{
		Name:    "ack",
		Summary: "each line → Server received your message.",
		Stream:  true,
		New: func(o Options) (Factory, error) {
			if err := checkMaxLine(o.MaxLine); err != nil {
				return nil, err
			}
			return func() Session { return newAckSession(o.MaxLine) }, nil
		},
		NewClient: func(ClientOptions) (Client, error) { return new(ackClient), nil },
	})
}

// ackSession is the long-connection pool server of the tutorial: it
// acknowledges every line until the peer half-closes.
type ackSession struct{ lines lineSession }

func newAckSession(maxLine int) *ackSession {
	s := &ackSession{}
	s.lines.split = newLineSplitter(maxLine)
	s.lines.onLine = func(_ []byte, out *bytes.Buffer) bool {
		out.WriteString(AckReply)
		return false
	}
	return s
}

func (*ackSession) Open(time.Time, *bytes.Buffer) Step { return Step{} }

func (s *ackSession) Data(in []byte, _ time.Time, out *bytes.Buffer) Step {
	return s.lines.data(in, out)
}

func (s *ackSession) EOF(_ time.Time, out *bytes.Buffer) Step { return s.lines.eof(out) }

func (s *ackSession) Wake(time.Time, *bytes.Buffer) Step { return Step{Close: s.lines.closed} }

// ackClient sends "message SEQ" lines and expects the acknowledgement.
type ackClient struct{ m bytesMatcher }

func (*ackClient) Greeting() Matcher { return nil }

func (c *ackClient) Next(dst []byte, seq uint64) ([]byte, Matcher) {
	dst = append(dst, "message "...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '\n')
	c.m.reset([]byte(AckReply))
	return dst, &c.m
}
