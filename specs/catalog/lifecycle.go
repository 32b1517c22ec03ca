package catalog

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// lifecycleSpecs: how a connection ends.
func init() {
	behave("close-on-eof", func(s *spec) {
		skipIfOneWay(s, "close-on-eof", "greeting and stream-complete")
		c := connect(s)
		req, m := c.next()
		if s.Protocol == "file" {
			// A get waits for the client's ok, which a half-closed client
			// cannot send: an unknown command, refused at once with a
			// no… message.
			req = s.framing().AppendEnd([]byte("socklab-unknown-command"))
			m = protocol.NewMessageMatcher(s.framing(), 0)
		}
		s.check(c.Write(req), "the request to be sent", "the server closed the connection")
		s.check(c.CloseWrite(), "a half-close", "the client socket cannot shut down its write side")
		s.check(c.Expect(m), "the answer owed for the request sent before the half-close", "the server dropped its output when recv returned empty")
		ending, extra := c.untilClosed(s.Timeout, "an orderly close after the client's half-close")
		switch ending {
		case wire.EOF:
		case wire.StillOpen:
			s.failf("an orderly close within "+s.Timeout.String()+" of the client's half-close",
				fmt.Sprintf("the connection stayed open %v after the client half-closed", s.Timeout),
				"a server should close when recv returns empty; this one loops on the empty read or ignores it")
		default:
			s.failf("an orderly close (EOF) after the client's half-close", ending.String(),
				"the server closed with SO_LINGER 0 or with unread input, which sends RST")
		}
		if len(extra) > 0 {
			s.failf("nothing after the answer", "the bytes "+quote(extra), "the server answered the empty read as a message")
		}
	})

	behave("exit-command", func(s *spec) {
		c := connect(s)
		f := s.framing()
		if s.raw() {
			// One send is one message: exit must come alone, after an
			// answered name.
			c.mustRoundtrip("a name before exit")
			s.check(c.Write(f.AppendEnd([]byte(protocol.HelloExit))), "exit to be sent", "the server closed early")
		} else {
			lines := f.AppendEnd([]byte("Alice"))
			lines = f.AppendEnd(append(lines, protocol.HelloExit...))
			lines = f.AppendEnd(append(lines, "Bob"...))
			s.check(c.Write(lines), "the three lines to be sent in one write", "the server closed early")
			s.check(c.Expect(exact(f.Frame(protocol.HelloReply("Alice")))), "Hello, Alice! before exit", "the server does not split lines")
		}
		ending, extra := c.untilClosed(s.Timeout+2*time.Second, "the connection closed after exit")
		if len(extra) > 0 {
			s.failf("no answer after exit", "the bytes "+quote(extra), "the server kept reading lines after exit in the same recv")
		}
		switch ending {
		case wire.EOF:
		case wire.StillOpen:
			s.failf("the connection closed after exit", "it stayed open", "the server does not recognise exit (a trailing \\r\\n or \\n compared to \"exit\")")
		default:
			s.failf("an orderly close (FIN) after exit", ending.String(),
				"the server closes with SO_LINGER 0, or with the unread lines after exit in its buffer, which sends RST")
		}
		servedFresh(s, "a client said exit")
	})
}

// exact is a matcher for one exact reply.
func exact(s string) protocol.Matcher { return &exactMatcher{want: []byte(s)} }

type exactMatcher struct {
	want []byte
	got  int
}

func (m *exactMatcher) Match(p []byte, eof bool) (int, bool, error) {
	rest := m.want[m.got:]
	n := min(len(p), len(rest))
	for i := 0; i < n; i++ {
		if p[i] != rest[i] {
			return i, false, fmt.Errorf("%w: byte %d is %#02x, want %#02x (received %s)", protocol.ErrWrongReply, m.got+i, p[i], rest[i], quote(p[i:min(len(p), i+40)]))
		}
	}
	m.got += n
	if m.got == len(m.want) {
		return n, true, nil
	}
	if eof && n == len(p) {
		return n, false, fmt.Errorf("%w: %q, then EOF", protocol.ErrShortReply, m.want[:m.got])
	}
	return n, false, nil
}
