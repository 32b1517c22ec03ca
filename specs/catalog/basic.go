package catalog

import (
	"github.com/socklab/socklab/protocol"
	"unicode/utf8"

	"github.com/socklab/socklab/specs/internal/wire"
)

// basicSpecs: the greeting and a plain request/answer.
func init() {
	behave("greeting", func(s *spec) {
		c := connectNoGreeting(s)
		if s.Protocol != "banner" {
			c.greeting()
			return
		}
		ending, got := c.untilClosed(s.Timeout, "the banner followed by an orderly close (EOF)")
		if !utf8.Valid(got) || len(got) == 0 {
			s.failf("a non-empty UTF-8 banner", "the bytes "+quote(got), "the banner is encoded in a legacy code page, or cut by a partial send()")
		}
		if ending != wire.EOF {
			s.failf("the banner followed by an orderly close (EOF)", ending.String(), "the server closes with SO_LINGER 0 or unread input, or never closes")
		}
		if !s.External {
			_, m := c.next()
			n, done, err := m.Match(got, true)
			if err != nil || !done || n != len(got) {
				s.failf("the configured banner", "the bytes "+quote(got), "the server sends another text")
			}
		}
	})

	behave("roundtrip", func(s *spec) {
		skipIfOneWay(s, "roundtrip", "greeting and stream-complete")
		c := connect(s)
		closes := false
		for i := 0; i < 3; i++ {
			if i > 0 && (s.closesAfterReply() || closes) {
				// One request per connection in this dialect, or the
				// server ended this one after its reply (HTTP's
				// Connection: close); the sequence number still makes
				// each request distinct.
				seq := c.seq
				c = connect(s)
				c.seq = seq
			}
			req, m := c.next()
			s.check(c.Write(req), "the request to be sent", "the server closed the connection")
			s.check(c.Expect(m), "the answer to "+quote(req)+" byte for byte", "the server answers with other bytes, answers late, or mixes up requests")
			closes = protocol.ClosesConnection(m)
		}
	})
}
