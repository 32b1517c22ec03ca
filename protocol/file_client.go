package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// maxFileReplyLine bounds the yes:SIZE or no… line the file client accepts.
const maxFileReplyLine = 1024

// fileClient downloads ClientOptions.Name with get, lock-step: its matcher
// is a Replier that hands out the "ok" to send once yes:SIZE arrived, so a
// driver must honour Replier to use it. It does not pipeline "ok" after the
// get: were the get refused, a server would take that "ok" for a command.
// It checks the size the server announced, not the content, which only the
// server knows.
type fileClient struct {
	f   Framing
	req []byte
	m   fileGetMatcher
}

func newFileClient(o ClientOptions) (Client, error) {
	if o.Name == "" {
		return nil, errors.New("file: a file name to get is required")
	}
	if err := checkClientLine("file: name", o.Name); err != nil {
		return nil, err
	}
	if bytes.ContainsAny([]byte(o.Name), ">\x00") {
		return nil, fmt.Errorf("file: name %q: must not contain '>' or NUL", o.Name)
	}
	return &fileClient{f: o.Framing, req: AppendFileGet(nil, o.Name, o.Framing)}, nil
}

func (*fileClient) Greeting() Matcher { return nil }

func (c *fileClient) Next(dst []byte, _ uint64) ([]byte, Matcher) {
	c.m = fileGetMatcher{f: c.f}
	return append(dst, c.req...), &c.m
}

// NewFileGetMatcher returns the Matcher (and Replier) of one get under
// framing f: a yes:SIZE message, then, once its Reply "ok" is sent, SIZE
// bytes. A no… message is ErrRefused.
func NewFileGetMatcher(f Framing) Matcher { return &fileGetMatcher{f: f} }

type fileGetMatcher struct {
	f      Framing
	sawYes bool
	size   int64
	left   int64
	reply  bool // "ok" is owed to the server
}

// header finds the yes:SIZE or no… message at the start of p. It returns
// the message, the bytes it takes on the wire, and false if more bytes are
// needed. Under Line the message ends at "\n". Under Raw nothing ends it:
// it is what the server's one send carried, so a "no…" is all of p, and
// yes:SIZE ends after its last digit (a server that sends the bytes without
// waiting for ok is still understood).
func (m *fileGetMatcher) header(p []byte, eof bool) (msg []byte, n int, ok bool) {
	if m.f == Line {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return nil, 0, false
		}
		return bytes.TrimSuffix(p[:i], []byte{'\r'}), i + 1, true
	}
	switch {
	case len(p) == 0:
		return nil, 0, false
	case bytes.HasPrefix(p, []byte("yes:")):
		i := 4
		for i < len(p) && isDigit(p[i]) {
			i++
		}
		if i == 4 && !eof && len(p) == 4 {
			return nil, 0, false // the size is still to come
		}
		return p[:i], i, true
	case len(p) < 4 && bytes.HasPrefix([]byte("yes:"), p) && !eof:
		return nil, 0, false
	}
	n = min(len(p), maxFileReplyLine)
	return p[:n], n, true
}

func (m *fileGetMatcher) Match(p []byte, eof bool) (int, bool, error) {
	n := 0
	if !m.sawYes {
		line, k, ok := m.header(p, eof)
		if !ok {
			if len(p) > maxFileReplyLine {
				return 0, false, fmt.Errorf("%w: file: reply line longer than %d bytes", ErrWrongReply, maxFileReplyLine)
			}
			if eof {
				return 0, false, fmt.Errorf("%w: file: EOF before the reply line", ErrShortReply)
			}
			return 0, false, nil
		}
		n = k
		switch {
		case bytes.HasPrefix(line, []byte("no")):
			return n, true, fmt.Errorf("%w: file: %q", ErrRefused, line)
		case bytes.HasPrefix(line, []byte("yes:")):
			size, err := strconv.ParseInt(string(line[4:]), 10, 64)
			if err != nil || size < 0 || !allDigits(line[4:]) {
				return n, false, fmt.Errorf("%w: file: bad size in %q", ErrWrongReply, line)
			}
			m.sawYes, m.size, m.left, m.reply = true, size, size, true
		default:
			return n, false, fmt.Errorf("%w: file: want yes:SIZE or no…, got %q", ErrWrongReply, line[:min(len(line), 64)])
		}
	}
	k := int(min(m.left, int64(len(p)-n)))
	n += k
	m.left -= int64(k)
	if m.left == 0 {
		return n, true, nil
	}
	if eof {
		return n, false, fmt.Errorf("%w: file: got %d of %d bytes before EOF", ErrShortReply, m.size-m.left, m.size)
	}
	return n, false, nil
}

// Reply hands out the "ok" that asks for the bytes, once.
func (m *fileGetMatcher) Reply(dst []byte) []byte {
	if m.reply {
		m.reply = false
		dst = AppendFileOK(dst, m.f)
	}
	return dst
}

// AppendFileGet appends the get request for name under framing f.
func AppendFileGet(dst []byte, name string, f Framing) []byte {
	return f.AppendEnd(append(append(dst, "get>"...), name...))
}

// AppendFilePut appends the put request of size bytes under name under
// framing f; the bytes follow once the server answered ok.
func AppendFilePut(dst []byte, name string, size int64, f Framing) []byte {
	dst = append(append(dst, "put>"...), name...)
	dst = strconv.AppendInt(append(dst, '>'), size, 10)
	return f.AppendEnd(dst)
}

// AppendFileOK appends the client's ok that asks for a get's bytes.
func AppendFileOK(dst []byte, f Framing) []byte { return f.AppendEnd(append(dst, "ok"...)) }
