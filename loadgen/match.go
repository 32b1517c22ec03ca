package loadgen

import (
	"fmt"
	"io"

	"github.com/socklab/socklab/protocol"
)

// Reply matching: what the server sends is fed to the greeting's matcher,
// then to the requests' in the order they were sent.

// recvBuf returns where the engine reads the next bytes into: the receive
// buffer after what the matchers left unconsumed.
func (x *exchange) recvBuf() []byte { return x.rbuf[x.rlen:] }

// received handles one read that returned at t: n bytes read into recvBuf,
// then err, which is nil, io.EOF (the server closed its side of a stream)
// or the read's failure. Timeouts are not failures of the read: the engine
// asks overdue instead.
//
// A read that returns before the run's cut-off counts, even after its end:
// the requests in flight at the end are given until the cut-off to be
// answered. One that returns at or after the cut-off completes nothing,
// whatever it carries: what is in flight then is unfinished (see abandon),
// even a reply that another connection's end let the server send.
func (x *exchange) received(t int64, n int, err error) outcome {
	if t >= x.r.cutoff {
		return outcome{next: runOver}
	}
	if n > 0 && x.reconnect && !x.gotByte {
		// A short connection's first byte: its time from when the
		// connection was due (corrected) and from when its connect began.
		x.gotByte = true
		if x.connDue >= x.r.measure {
			x.st.firstByte(t, t-x.connDue, t-x.connAt)
		}
	}
	eof := false
	switch {
	case err == nil:
	case err == io.EOF && !x.dgram:
		eof = true
	default:
		return x.fail(t, err)
	}
	if x.dgram {
		return x.matchDatagram(t, x.rbuf[:n])
	}
	x.rlen += n
	return x.matchStream(t, eof)
}

// matchDatagram matches one datagram, which must be the whole reply to the
// request in flight and nothing more.
func (x *exchange) matchDatagram(t int64, p []byte) outcome {
	if x.n == 0 {
		return x.fail(t, fmt.Errorf("%w: unsolicited datagram of %d bytes", protocol.ErrWrongReply, len(p)))
	}
	s := &x.ring[x.head]
	k, done, err := s.m.Match(p, false)
	switch {
	case err != nil:
		return x.fail(t, err)
	case !done:
		return x.fail(t, fmt.Errorf("%w: datagram of %d bytes is not a whole reply", protocol.ErrShortReply, len(p)))
	case k < len(p):
		return x.fail(t, fmt.Errorf("%w: %d bytes after the reply in its datagram", protocol.ErrWrongReply, len(p)-k))
	}
	x.complete(t)
	if x.reconnect && x.idle() && x.connOver() {
		// Short connections: a fresh socket for the next connection, as
		// on a stream; without this hang-up the datagram path never
		// asked for one, and a -n run waited for ever.
		return outcome{next: hangUp, done: 1}
	}
	return outcome{done: 1}
}

// matchStream feeds the bytes received so far to the greeting's matcher,
// then to the requests' in order, completing each request whose reply is
// whole, and keeps what they leave for the next read. What a
// protocol.Replier hands out after each Match call is owed to the server.
func (x *exchange) matchStream(t int64, eof bool) outcome {
	var o outcome
	p := x.rbuf[:x.rlen]
	if x.greet != nil {
		k, done, err := x.greet.Match(p, eof)
		p = p[k:]
		if err != nil {
			return x.fail(t, err)
		}
		if x.greetR != nil {
			x.out = x.greetR.Reply(x.out)
		}
		switch {
		case done:
			x.greet, x.greetR = nil, nil
		case eof:
			return x.fail(t, fmt.Errorf("%w: EOF in the greeting", protocol.ErrShortReply))
		}
	}
	for x.greet == nil && x.n > 0 {
		s := &x.ring[x.head]
		k, done, err := s.m.Match(p, eof)
		p = p[k:]
		if err != nil {
			return o.then(x.fail(t, err))
		}
		if s.rep != nil {
			x.out = s.rep.Reply(x.out)
		}
		if !done {
			if eof {
				return o.then(x.fail(t, fmt.Errorf("%w: EOF before the reply was complete", protocol.ErrShortReply)))
			}
			break
		}
		x.complete(t)
		o.done++
	}
	if len(p) > 0 && x.idle() {
		return o.then(x.fail(t, fmt.Errorf("%w: %d unsolicited bytes", protocol.ErrWrongReply, len(p))))
	}
	// Keep what a matcher left unconsumed for the next read.
	x.rlen = copy(x.rbuf, p)
	if x.rlen == len(x.rbuf) {
		return o.then(x.fail(t, fmt.Errorf("%w: more than %d bytes without a complete reply", protocol.ErrWrongReply, len(x.rbuf))))
	}
	switch {
	case eof:
		// The server ended the exchange (banner, poetry), or closed first
		// as a short connection's CloseServer awaits: connect anew.
		o.next = hangUp
	case x.reconnect && x.idle() && !x.closing && x.connOver():
		// A short connection's requests are done: close it, or await
		// the server's close.
		o.next = x.finishConn(t)
	}
	return o
}

// then is o's completions followed by f's failure.
func (o outcome) then(f outcome) outcome {
	f.done = o.done
	return f
}

// owed returns the bytes owed to the server and not sent yet.
func (x *exchange) owed() []byte { return x.out[x.outOff:] }

// wrote notes that the engine sent the first n bytes of owed.
func (x *exchange) wrote(n int) {
	x.outOff += n
	if x.outOff == len(x.out) {
		x.out, x.outOff = x.out[:0], 0
	}
}
