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
// is a Replier that hands out the "ok\n" to send once yes:SIZE arrived, so a
// driver must honour Replier to use it. It does not pipeline "ok" after the
// get: were the get refused, a server would take that "ok" for a command.
// It checks the size the server announced, not the content, which only the
// server knows.
type fileClient struct {
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
	return &fileClient{req: []byte("get>" + o.Name + "\n")}, nil
}

func (*fileClient) Greeting() Matcher { return nil }

func (c *fileClient) Next(dst []byte, _ uint64) ([]byte, Matcher) {
	c.m = fileGetMatcher{}
	return append(dst, c.req...), &c.m
}

// NewFileGetMatcher returns the Matcher (and Replier) of one get: a
// yes:SIZE line, then, once its Reply "ok\n" is sent, SIZE bytes. A no…
// line is ErrRefused.
func NewFileGetMatcher() Matcher { return new(fileGetMatcher) }

type fileGetMatcher struct {
	sawYes bool
	size   int64
	left   int64
	reply  bool // "ok\n" is owed to the server
}

func (m *fileGetMatcher) Match(p []byte, eof bool) (int, bool, error) {
	n := 0
	if !m.sawYes {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(p) > maxFileReplyLine {
				return 0, false, fmt.Errorf("%w: file: reply line longer than %d bytes", ErrWrongReply, maxFileReplyLine)
			}
			if eof {
				return 0, false, fmt.Errorf("%w: file: EOF before the reply line", ErrShortReply)
			}
			return 0, false, nil
		}
		line := bytes.TrimSuffix(p[:i], []byte{'\r'})
		n = i + 1
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

// Reply hands out the "ok\n" that asks for the bytes, once.
func (m *fileGetMatcher) Reply(dst []byte) []byte {
	if m.reply {
		m.reply = false
		dst = append(dst, "ok\n"...)
	}
	return dst
}
