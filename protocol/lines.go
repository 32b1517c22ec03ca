package protocol

import (
	"bytes"
	"errors"
)

// errLineTooLong is returned by lineSplitter for a line over its limit.
var errLineTooLong = errors.New("line too long")

// lineSplitter cuts a byte stream into lines. A line ends in '\n'; a '\r'
// right before it is dropped. It buffers at most max+1 bytes of an
// unfinished line (the +1 is room for the '\r' of a line of exactly max
// bytes), so a peer that never sends '\n' cannot make it grow without bound.
type lineSplitter struct {
	max     int
	pending []byte
}

func newLineSplitter(max int) lineSplitter {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return lineSplitter{max: max}
}

// next takes the next line out of in. It returns the line without its
// terminator, the unconsumed rest of in, and ok when a whole line was found.
// When in holds no '\n', next keeps in as the start of an unfinished line
// and returns ok false and an empty rest. It returns errLineTooLong when the
// line is longer than the limit. The line is valid until the next call.
func (s *lineSplitter) next(in []byte) (line, rest []byte, ok bool, err error) {
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		if len(s.pending)+len(in) > s.max+1 {
			s.pending = s.pending[:0]
			return nil, nil, false, errLineTooLong
		}
		s.pending = append(s.pending, in...)
		return nil, nil, false, nil
	}
	rest = in[i+1:]
	if len(s.pending) == 0 {
		line = in[:i]
	} else {
		if len(s.pending)+i > s.max+1 {
			s.pending = s.pending[:0]
			return nil, rest, false, errLineTooLong
		}
		s.pending = append(s.pending, in[:i]...)
		line = s.pending
		s.pending = s.pending[:0]
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > s.max {
		return nil, rest, false, errLineTooLong
	}
	return line, rest, true, nil
}

// flush returns the unfinished last line at EOF (ok false if there is
// none), with a trailing '\r' dropped, or errLineTooLong.
func (s *lineSplitter) flush() (line []byte, ok bool, err error) {
	if len(s.pending) == 0 {
		return nil, false, nil
	}
	line = bytes.TrimSuffix(s.pending, []byte{'\r'})
	s.pending = s.pending[:0]
	if len(line) > s.max {
		return nil, false, errLineTooLong
	}
	return line, true, nil
}

// buffered reports how many bytes of an unfinished line are held.
func (s *lineSplitter) buffered() int { return len(s.pending) }

// lineSession is the skeleton of a framed server session: it cuts the input
// into messages (lines, or reads under Raw), hands each to onLine, refuses an
// oversize message with an error message and a close, treats an unfinished
// last line at EOF as a line, and ignores everything after it has asked to
// close.
//
// It answers lines only while the replies owed stay under HighWater: a
// client that pipelines short lines and reads nothing would otherwise make
// one read of 64 KiB of empty lines into megabytes of replies (the ack
// reply is 30 bytes a line). Past HighWater the rest of the input is held,
// the Step asks for More, and Wake goes on once the driver has written
// enough; the driver reads nothing more meanwhile. Under Raw a Data call is
// one message with one reply, so nothing is ever held.
type lineSession struct {
	frame  framer
	closed bool
	// onLine answers one message and reports whether to close.
	onLine func(line []byte, out *bytes.Buffer) (close bool)
	// held is input not yet cut into messages, and heldEOF an EOF that
	// came behind it.
	held    []byte
	heldEOF bool
}

func (l *lineSession) step() Step {
	return Step{Close: l.closed, More: !l.closed && len(l.held) > 0, Partial: !l.closed && len(l.held) == 0 && l.frame.partial()}
}

func (l *lineSession) data(in []byte, out *bytes.Buffer) Step {
	if len(l.held) > 0 {
		// Behind input already held: in order, after it.
		l.held = append(l.held, in...)
		return l.step()
	}
	l.consume(in, out)
	return l.step()
}

// consume answers the messages of in until the replies owed reach
// HighWater, and holds the rest.
func (l *lineSession) consume(in []byte, out *bytes.Buffer) {
	for !l.closed && len(in) > 0 {
		if out.Len() >= HighWater && l.frame.f == Line {
			l.held = append(l.held, in...)
			return
		}
		line, rest, ok, err := l.frame.next(in)
		in = rest
		switch {
		case err != nil:
			l.frame.writeTooLong(out)
			l.closed = true
		case ok:
			l.closed = l.onLine(line, out)
		}
	}
}

// wake answers the input held, then the EOF behind it.
func (l *lineSession) wake(out *bytes.Buffer) Step {
	if len(l.held) > 0 && !l.closed {
		in := l.held
		l.held = nil
		l.consume(in, out)
		if len(l.held) == 0 && l.heldEOF {
			return l.eof(out)
		}
	}
	return l.step()
}

func (l *lineSession) eof(out *bytes.Buffer) Step {
	if len(l.held) > 0 && !l.closed {
		l.heldEOF = true
		return l.step()
	}
	if !l.closed {
		line, ok, err := l.frame.flush()
		switch {
		case err != nil:
			l.frame.writeTooLong(out)
		case ok:
			l.onLine(line, out)
		}
		l.closed = true
	}
	l.held = nil
	return Step{Close: true}
}
