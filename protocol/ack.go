package protocol

import (
	"bytes"
	"strconv"
	"time"
)

// AckReply is the ack server's answer to every message, without its
// terminator (Framing.Frame adds it).
const AckReply = "Server received your message."

func init() {
	register(Protocol{
		Name:    "ack",
		Summary: "each line → Server received your message.",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			if err := checkMaxLine(o.MaxLine); err != nil {
				return nil, err
			}
			return func() Session { return newAckSession(o.Framing, o.MaxLine) }, nil
		},
		NewClient: func(o ClientOptions) (Client, error) {
			return &ackClient{f: o.Framing, want: []byte(o.Framing.Frame(AckReply))}, nil
		},
	})
}

// ackSession is the long-connection pool server of the tutorial: it
// acknowledges every message until the peer half-closes.
type ackSession struct{ lines lineSession }

func newAckSession(f Framing, maxLine int) *ackSession {
	s := &ackSession{}
	s.lines.frame = newFramer(f, maxLine)
	s.lines.onLine = func(_ []byte, out *bytes.Buffer) bool {
		out.WriteString(AckReply)
		s.lines.frame.end(out)
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

// ackClient sends "message SEQ" messages and expects the acknowledgement.
type ackClient struct {
	f    Framing
	want []byte
	m    bytesMatcher
}

func (*ackClient) Greeting() Matcher { return nil }

func (c *ackClient) Next(dst []byte, seq uint64) ([]byte, Matcher) {
	dst = append(dst, "message "...)
	dst = c.f.AppendEnd(strconv.AppendUint(dst, seq, 10))
	c.m.reset(c.want)
	return dst, &c.m
}
