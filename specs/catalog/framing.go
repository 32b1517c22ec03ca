package catalog

import (
	"bytes"
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// Framing sizes. The pipelined write is larger than a typical server read
// (64 KiB) so that requests straddle reads; the oversized line is far past
// any sane limit.
const (
	fragmentPause   = 2 * time.Millisecond
	maxFragmented   = 256
	pipelineBytes   = 256 << 10
	pipelineMax     = 20000
	oversizeMaxSend = 8 << 20
)

// framingSpecs: how requests are cut out of the byte stream.
func init() {
	behave("fragmented-input", func(s *spec) {
		skipIfRaw(s, "fragmented-input")
		skipIfOneWay(s, "fragmented-input", "stream-complete")
		skipIfLockStep(s, "fragmented-input")
		c := connect(s)
		for i := 0; i < 2; i++ {
			req, m := c.next()
			if len(req) > maxFragmented {
				req = req[:maxFragmented]
			}
			for j := range req {
				s.check(c.Write(req[j:j+1]), "each byte to be sent", "the server closed the connection mid-request")
				time.Sleep(fragmentPause)
			}
			s.check(c.Expect(m), "exactly the answer of "+quote(req)+" sent whole",
				"the server treats one recv() as one message; TCP is a byte stream, a message can arrive in pieces")
		}
		if s.Protocol == "hello" {
			// The exit command split as ex + it\n must still be exit,
			// which says something only of a server whose exit works:
			// one defect, one failing behaviour.
			if ok, why := s.dependsOn("exit-command"); !ok {
				s.note("not run", "the check of exit split as ex + it\\n: "+why)
				return
			}
			s.check(c.Write([]byte("ex")), "ex to be sent", "the server closed early")
			time.Sleep(20 * fragmentPause)
			s.check(c.Write(s.framing().AppendEnd([]byte("it"))), "it\\n to be sent", "the server closed early")
			ending, extra := c.untilClosed(s.Timeout, "ex + it\\n to close like exit")
			// How it closes is exit-command's business; here only that
			// it does, with no answer.
			if ending == wire.StillOpen || ending == wire.Broken || len(extra) > 0 {
				s.failf("ex + it\\n to close like exit", fmt.Sprintf("%s after %s", ending, quote(extra)),
					"the server treats one recv() as one message")
			}
		}
	})

	behave("pipelined-input", func(s *spec) {
		skipIfRaw(s, "pipelined-input")
		skipIfOneWay(s, "pipelined-input", "stream-complete")
		skipIfLockStep(s, "pipelined-input")
		c := connect(s)
		all, ms, ends := pipelineBatch(s)
		done := c.WriteAsync(all)
		sent, reconnects := len(all), 0
		for i, m := range ms {
			if ends[i] > sent {
				// After a reconnect the rest goes a window at a time.
				s.check(<-done, "the pipelined requests to be sent again", "the server stopped reading")
				next := min(len(all), max(ends[i], sent+resendWindow))
				done = c.WriteAsync(all[sent:next])
				sent = next
			}
			if err := c.Expect(m); err != nil {
				s.failf(fmt.Sprintf("answers to all %d requests sent in one write, in order", len(ms)),
					fmt.Sprintf("answer %d: %v", i, err),
					"the server treats one recv() as one message, so requests after the first in a read are dropped or mixed")
			}
			if protocol.ClosesConnection(m) && i+1 < len(ms) {
				// The server ended the connection after this reply, as
				// HTTP/1.1 allows: the requests after it were not
				// lost, and go again on a new connection.
				<-done // the old write may fail once the server closed
				c.Close()
				c = connect(s)
				sent, done = ends[i], written()
				reconnects++
			}
		}
		s.check(<-done, "the pipelined write to complete", "the server stopped reading")
		if reconnects > 0 {
			s.note("reconnects", fmt.Sprintf("the server closed the connection %d times after a reply that said so; the requests after it were sent again", reconnects))
		}
	})

	behave("oversized-line", func(s *spec) {
		skipIfRaw(s, "oversized-line")
		c := connect(s)
		line := bytes.Repeat([]byte{'a'}, 64<<10)
		stop := make(chan struct{})
		defer close(stop)
		sent := make(chan int, 1)
		go func() {
			n := 0
			for n < oversizeMaxSend {
				select {
				case <-stop:
					sent <- n
					return
				default:
				}
				if _, err := c.NetConn().Write(line); err != nil {
					break
				}
				n += len(line)
			}
			sent <- n
		}()
		// Read until the server closes; once the writer has sent all it
		// will, give the server one more timeout to refuse.
		var ending wire.Ending
		var reply []byte
		writerDone := false
		for i := 0; i < 10; i++ {
			e, r := c.untilClosed(s.Timeout, "a line beyond the server's limit refused with an error and a close")
			ending, reply = e, append(reply, r...)
			if e != wire.StillOpen || writerDone {
				break
			}
			select {
			case <-sent:
				writerDone = true
			default:
			}
		}
		switch {
		case ending == wire.StillOpen:
			s.failf("a line beyond the server's limit refused with an error and a close",
				fmt.Sprintf("the connection stayed open while the client sent %d MiB without a newline", oversizeMaxSend>>20),
				"the server appends every recv() to a buffer until it sees a newline, with no limit: memory grows without bound")
		case ending == wire.EOF && len(reply) == 0:
			s.shouldf("an error reply before the close", "a close with no reply", "the server drops the connection silently instead of saying why")
		}
		servedFresh(s, "a client sent an oversized line")
	})
}

// pipelineBatch builds pipelined requests of s's protocol: one protocol
// client per request (clients reuse their matcher between calls), with
// sequence numbers 0, 1, … so each answer is distinct. ends[i] is where
// request i ends in all.
func pipelineBatch(s *spec) (all []byte, ms []protocol.Matcher, ends []int) {
	for seq := uint64(0); len(all) < pipelineBytes && len(ms) < pipelineMax; seq++ {
		pc := newProtocolClient(s, protocol.ClientOptions{})
		var m protocol.Matcher
		all, m = pc.Next(all, seq)
		ms = append(ms, m)
		ends = append(ends, len(all))
	}
	return all, ms, ends
}

// resendWindow is how much of the pipelined batch goes at once on a new
// connection, after the server closed one: a server that closes every few
// requests must not be sent the whole rest of the batch each time.
const resendWindow = 16 << 10

// written is a write that is already over.
func written() <-chan error {
	ch := make(chan error, 1)
	ch <- nil
	return ch
}

// skipIfLockStep skips a behaviour that needs requests to be independent of
// the replies: the file protocol's get waits for the client's ok.
func skipIfLockStep(s *spec, id string) {
	if s.Protocol == "file" {
		s.skip(id + " needs independent requests; the file protocol is lock-step (get waits for the client's ok)")
	}
}
