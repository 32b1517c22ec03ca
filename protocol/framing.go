package protocol

import (
	"bytes"
	"fmt"
)

// Framing is how the messages of a stream protocol are delimited. It is the
// one place where socklab decides what ends a message: every session and
// every client of a framed protocol (hello, ack, banner, poetry, file, http)
// takes it from Options.Framing or ClientOptions.Framing, and nothing outside
// this package writes a terminator by hand. Echo needs no framing: a byte
// stream in is the same byte stream out.
type Framing uint8

const (
	// Line is socklab's own dialect: every message ends in "\n" (a "\r"
	// before it is dropped), whatever the reads and writes that carry it.
	Line Framing = iota
	// Raw is the tutorials' dialect, byte for byte: a message is what one
	// send carried, and a server takes what one read returned as one
	// message (bounded by Options.MaxLine). Nothing ends a message, so the
	// client sends a message in one write and waits for its answer before
	// it sends the next (lock-step), and knows an answer is complete from
	// the protocol alone: its expected bytes, a declared size, or EOF.
	Raw
	// Auto is not a framing of its own: a client facing a server it did
	// not start probes the server's dialect once (package probe) and then
	// uses Line or Raw. Sessions and protocol clients refuse it.
	Auto
)

var framingNames = [...]string{Line: "line", Raw: "raw", Auto: "auto"}

func (f Framing) String() string {
	if int(f) < len(framingNames) {
		return framingNames[f]
	}
	return fmt.Sprintf("Framing(%d)", uint8(f))
}

// ParseFraming parses "line", "raw" or "auto".
func ParseFraming(s string) (Framing, error) {
	for f, n := range framingNames {
		if s == n {
			return Framing(f), nil
		}
	}
	return 0, fmt.Errorf("framing %q: want line, raw or auto", s)
}

// Set implements flag.Value, so a command's --framing flag parses with
// ParseFraming.
func (f *Framing) Set(s string) error {
	v, err := ParseFraming(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// AppendEnd appends the terminator of a message under f: "\n" under Line,
// nothing under Raw.
func (f Framing) AppendEnd(dst []byte) []byte {
	if f == Line {
		dst = append(dst, '\n')
	}
	return dst
}

// writeEnd writes the terminator of a message under f to out.
func (f Framing) writeEnd(out *bytes.Buffer) {
	if f == Line {
		out.WriteByte('\n')
	}
}

// Frame returns msg as it goes on the wire under f.
func (f Framing) Frame(msg string) string {
	if f == Line {
		return msg + "\n"
	}
	return msg
}

// checkConcrete refuses Auto (and unknown values) where a session or a
// protocol client needs to know the dialect.
func (f Framing) checkConcrete() error {
	switch f {
	case Line, Raw:
		return nil
	case Auto:
		return fmt.Errorf("framing auto must be resolved to line or raw before use")
	}
	return fmt.Errorf("unknown framing %d", uint8(f))
}

// framer cuts a session's input into messages under its Framing: lines under
// Line, one message per Data call (one read) under Raw. Either way a message
// is at most max bytes, so memory stays bounded.
type framer struct {
	f     Framing
	lines lineSplitter
}

func newFramer(f Framing, max int) framer { return framer{f: f, lines: newLineSplitter(max)} }

// max is the longest message accepted.
func (fr *framer) max() int { return fr.lines.max }

// next takes the next message out of in, as lineSplitter.next does. Under
// Raw the whole of in is one message; the driver reads at most its buffer
// size, and a read over the limit is refused with errLineTooLong.
func (fr *framer) next(in []byte) (msg, rest []byte, ok bool, err error) {
	if fr.f == Line {
		return fr.lines.next(in)
	}
	if len(in) > fr.lines.max {
		return nil, nil, false, errLineTooLong
	}
	return in, nil, true, nil
}

// flush returns the unfinished last message at EOF; under Raw nothing is
// ever unfinished.
func (fr *framer) flush() (msg []byte, ok bool, err error) {
	if fr.f == Line {
		return fr.lines.flush()
	}
	return nil, false, nil
}

// partial reports whether the start of a message is held, its end not yet
// read: never under Raw, where a read is a message.
func (fr *framer) partial() bool { return fr.f == Line && fr.lines.buffered() > 0 }

// end writes the message terminator to out.
func (fr *framer) end(out *bytes.Buffer) { fr.f.writeEnd(out) }

// writeTooLong writes the error message that refuses a message over the
// limit.
func (fr *framer) writeTooLong(out *bytes.Buffer) {
	if fr.f == Line {
		fmt.Fprintf(out, "error: line longer than %d bytes\n", fr.lines.max)
		return
	}
	fmt.Fprintf(out, "error: message longer than %d bytes", fr.lines.max)
}
