package protocol

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AckReply is the ack server's default answer to every message, without
// its terminator (Framing.Frame adds it).
const AckReply = "Server received your message."

// AckQuote in Options.AckReply stands for the message being acknowledged:
// the tutorial's socketserver server answers "Server received your
// message:{msg}".
const AckQuote = "{msg}"

func init() {
	register(Protocol{
		Name:    "ack",
		Summary: "each line → Server received your message. (or --ack-reply, where {msg} quotes the message)",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			reply, err := ackOptions(o)
			if err != nil {
				return nil, err
			}
			return func() Session { return newAckSession(o.Framing, o.MaxLine, reply) }, nil
		},
		NewClient: func(o ClientOptions) (Client, error) {
			reply, err := ackOptions(o.Options)
			if err != nil {
				return nil, err
			}
			return &ackClient{f: o.Framing, reply: reply}, nil
		},
	})
}

// ackReply is an acknowledgement split around its one AckQuote, if any.
type ackReply struct {
	before, after string
	quotes        bool
}

// ackOptions checks the options of ack and parses its reply.
func ackOptions(o Options) (ackReply, error) {
	if err := checkMaxLine(o.MaxLine); err != nil {
		return ackReply{}, err
	}
	text := o.AckReply
	if text == "" {
		text = AckReply
	}
	if strings.Count(text, AckQuote) > 1 {
		return ackReply{}, fmt.Errorf("ack: reply %q: at most one %s", text, AckQuote)
	}
	before, after, quotes := strings.Cut(text, AckQuote)
	return ackReply{before: before, after: after, quotes: quotes}, nil
}

// append appends the acknowledgement of msg.
func (r *ackReply) append(dst, msg []byte) []byte {
	dst = append(dst, r.before...)
	if r.quotes {
		dst = append(dst, msg...)
	}
	return append(dst, r.after...)
}

// ackSession is the long-connection pool server of the tutorial: it
// acknowledges every message until the peer half-closes.
type ackSession struct {
	lines lineSession
	reply ackReply
}

func newAckSession(f Framing, maxLine int, reply ackReply) *ackSession {
	s := &ackSession{reply: reply}
	s.lines.frame = newFramer(f, maxLine)
	s.lines.onLine = func(msg []byte, out *bytes.Buffer) bool {
		out.Write(s.reply.append(out.AvailableBuffer(), msg))
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

func (s *ackSession) Wake(_ time.Time, out *bytes.Buffer) Step { return s.lines.wake(out) }

// ackClient sends "message SEQ" messages and expects their acknowledgement.
type ackClient struct {
	f     Framing
	reply ackReply
	want  []byte
	m     bytesMatcher
}

func (*ackClient) Greeting() Matcher { return nil }

func (c *ackClient) Next(dst []byte, seq uint64) ([]byte, Matcher) {
	start := len(dst)
	dst = append(dst, "message "...)
	dst = strconv.AppendUint(dst, seq, 10)
	c.want = c.f.AppendEnd(c.reply.append(c.want[:0], dst[start:]))
	dst = c.f.AppendEnd(dst)
	c.m.reset(c.want)
	return dst, &c.m
}
