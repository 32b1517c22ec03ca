package protocol

import (
	"fmt"
)

// DefaultEchoSize is the echo client's default payload size.
const DefaultEchoSize = 64

// echoClient sends payloads whose bytes depend on the request's sequence
// number, so a reply from another request, a reordered or a corrupted reply
// is caught, not only a short one.
type echoClient struct {
	size int
	text bool
	m    bytesMatcher
}

func newEchoClient(o ClientOptions) (Client, error) {
	size := o.Size
	if size == 0 {
		size = DefaultEchoSize
	}
	if size < 0 {
		return nil, fmt.Errorf("echo: payload size %d: must be positive", size)
	}
	return &echoClient{size: size, text: o.Text}, nil
}

func (*echoClient) Greeting() Matcher { return nil }

func (c *echoClient) Next(dst []byte, seq uint64) ([]byte, Matcher) {
	start := len(dst)
	if c.text {
		dst = AppendTextPattern(dst, c.size, seq)
	} else {
		dst = AppendPattern(dst, c.size, seq)
	}
	c.m.reset(dst[start:])
	return dst, &c.m
}

// AppendPattern appends n bytes to dst that cover all 256 byte values and
// depend on seed, so that two payloads with different seeds differ.
func AppendPattern(dst []byte, n int, seed uint64) []byte {
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 0; i < n; i++ {
		dst = append(dst, byte(i)+byte(x>>(8*(i%8))))
	}
	return dst
}

// AppendTextPattern is AppendPattern in printable ASCII ('!' to '~'): n
// bytes that depend on seed, none of them a space or a line break.
func AppendTextPattern(dst []byte, n int, seed uint64) []byte {
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 0; i < n; i++ {
		dst = append(dst, '!'+(byte(i)+byte(x>>(8*(i%8))))%94)
	}
	return dst
}

// bytesMatcher expects an exact byte string.
type bytesMatcher struct {
	want []byte
	got  int
}

func (m *bytesMatcher) reset(want []byte) { m.want, m.got = want, 0 }

func (m *bytesMatcher) Match(p []byte, eof bool) (int, bool, error) {
	rest := m.want[m.got:]
	n := min(len(p), len(rest))
	for i := 0; i < n; i++ {
		if p[i] != rest[i] {
			return i, false, fmt.Errorf("%w: byte %d is %#02x, want %#02x", ErrWrongReply, m.got+i, p[i], rest[i])
		}
	}
	m.got += n
	if m.got == len(m.want) {
		return n, true, nil
	}
	if eof && n == len(p) {
		return n, false, fmt.Errorf("%w: got %d of %d bytes before EOF", ErrShortReply, m.got, len(m.want))
	}
	return n, false, nil
}
