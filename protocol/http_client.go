package protocol

import (
	"bytes"
	"fmt"
	"strconv"
)

// maxResponseHead bounds the head of a response (status line and headers)
// and each chunk-size line that the http client accepts.
const maxResponseHead = 64 << 10

// httpClient sends keep-alive GET requests. Its matcher accepts any
// well-formed HTTP/1.x response with a 2xx status, whatever its body, so it
// works against any HTTP server, not only socklab's.
type httpClient struct {
	req []byte
	m   httpMatcher
}

func newHTTPClient(o ClientOptions) (Client, error) {
	path, host := o.Path, o.Host
	if path == "" {
		path = "/"
	}
	if host == "" {
		host = "localhost"
	}
	if path[0] != '/' && path != "*" || hasCTL([]byte(path)) || bytes.ContainsAny([]byte(path), " ") {
		return nil, fmt.Errorf("http: path %q: want an origin-form path such as /index.html", path)
	}
	if hasCTL([]byte(host)) || bytes.ContainsAny([]byte(host), " /") {
		return nil, fmt.Errorf("http: host %q: want a host name, optionally with :port", host)
	}
	if o.Framing == Raw {
		return &rawHTTPClient{req: []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")}, nil
	}
	return &httpClient{req: []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")}, nil
}

// rawHTTPClient is the tutorials' HTTP client (seed 001): one GET with
// Connection: close per connection, the answer read to EOF. It accepts a
// 2xx HTTP response, as httpClient does, or, as the tutorial's server (seed
// 000) sends it, a bare body with no status line at all; an empty answer
// is a short reply.
type rawHTTPClient struct {
	req []byte
	m   rawHTTPMatcher
}

func (*rawHTTPClient) Greeting() Matcher { return nil }

func (c *rawHTTPClient) Next(dst []byte, _ uint64) ([]byte, Matcher) {
	c.m = rawHTTPMatcher{}
	return append(dst, c.req...), &c.m
}

// rawHTTPMatcher waits for EOF, then judges everything the server sent.
type rawHTTPMatcher struct{}

func (rawHTTPMatcher) Match(p []byte, eof bool) (int, bool, error) {
	switch {
	case len(p) > maxResponseHead:
		return 0, false, fmt.Errorf("%w: http: more than %d bytes before EOF", ErrWrongReply, maxResponseHead)
	case !eof:
		return 0, false, nil
	case len(p) == 0:
		return 0, false, fmt.Errorf("%w: http: the server closed without an answer", ErrShortReply)
	case !bytes.HasPrefix(p, []byte("HTTP/")):
		return len(p), true, nil // the tutorial's bare body
	}
	var m httpMatcher
	n, done, err := m.Match(p, true)
	switch {
	case err != nil:
		return n, false, err
	case !done:
		return n, false, fmt.Errorf("%w: http: EOF before the response was complete", ErrShortReply)
	case n < len(p):
		return n, false, fmt.Errorf("%w: http: %d bytes after the response", ErrWrongReply, len(p)-n)
	}
	return n, true, nil
}

func (*httpClient) Greeting() Matcher { return nil }

func (c *httpClient) Next(dst []byte, _ uint64) ([]byte, Matcher) {
	c.m = httpMatcher{}
	return append(dst, c.req...), &c.m
}

// NewHTTPMatcher returns a Matcher for one HTTP/1.x response to a request
// with a body (not HEAD): it completes when the body ends, by Content-Length,
// by the last chunk of a chunked body, or at EOF for a body with neither. A
// status other than 2xx is ErrRefused, informational 1xx responses are
// skipped, and a malformed or oversized head is ErrWrongReply.
func NewHTTPMatcher() Matcher { return new(httpMatcher) }

// httpMatcher parses a response as it arrives. It consumes only whole lines
// of a head, so the caller re-presents an unfinished line; a line longer
// than maxResponseHead is a wrong reply, which bounds the caller's buffer.
type httpMatcher struct {
	state     httpState
	status    int
	headBytes int
	length    int64 // Content-Length, -1 if none
	chunked   bool
	left      int64 // bytes left in the body or the current chunk
	closing   bool  // Connection: close
}

// ClosesConnection reports whether the response said Connection: close:
// the server ends the connection after it (ConnectionCloser).
func (m *httpMatcher) ClosesConnection() bool { return m.closing }

type httpState int

const (
	hStatus httpState = iota
	hHeaders
	hBody      // Content-Length body
	hBodyToEOF // neither length nor chunked: the body ends at EOF
	hChunkSize
	hChunkData
	hChunkCRLF
	hTrailers
	hDone
)

func (m *httpMatcher) Match(p []byte, eof bool) (int, bool, error) {
	n := 0
	for m.state != hDone {
		switch m.state {
		case hBody, hChunkData:
			k := int(min(m.left, int64(len(p)-n)))
			n += k
			m.left -= int64(k)
			if m.left > 0 {
				return n, false, m.short(eof, "body")
			}
			if m.state == hBody {
				m.state = hDone
			} else {
				m.state = hChunkCRLF
			}
			continue
		case hBodyToEOF:
			n = len(p)
			if eof {
				m.state = hDone
				continue
			}
			return n, false, nil
		}
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			if len(p)-n > maxResponseHead {
				return n, false, fmt.Errorf("%w: http: line longer than %d bytes", ErrWrongReply, maxResponseHead)
			}
			return n, false, m.short(eof, "head")
		}
		line := bytes.TrimSuffix(p[n:n+i], []byte{'\r'})
		n += i + 1
		if err := m.line(line); err != nil {
			return n, false, err
		}
	}
	if m.status < 200 || m.status > 299 {
		return n, true, fmt.Errorf("%w: http status %d", ErrRefused, m.status)
	}
	return n, true, nil
}

func (m *httpMatcher) short(eof bool, where string) error {
	if eof {
		return fmt.Errorf("%w: http: EOF in the response %s", ErrShortReply, where)
	}
	return nil
}

func (m *httpMatcher) wrong(format string, a ...any) error {
	return fmt.Errorf("%w: http: %s", ErrWrongReply, fmt.Sprintf(format, a...))
}

// line handles one line of a head, a chunk size, a chunk's end or trailers.
func (m *httpMatcher) line(line []byte) error {
	if m.state == hStatus || m.state == hHeaders || m.state == hTrailers {
		m.headBytes += len(line) + 2
		if m.headBytes > maxResponseHead {
			return m.wrong("response head longer than %d bytes", maxResponseHead)
		}
	}
	switch m.state {
	case hStatus:
		// HTTP/1.x SP 3DIGIT [SP reason]
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || !isDigit(line[7]) || line[8] != ' ' ||
			!allDigits(line[9:12]) || len(line) > 12 && line[12] != ' ' {
			return m.wrong("bad status line %q", line[:min(len(line), 64)])
		}
		m.status, _ = strconv.Atoi(string(line[9:12]))
		if m.status < 100 {
			return m.wrong("bad status %d", m.status)
		}
		m.length = -1
		m.state = hHeaders
	case hHeaders:
		if len(line) == 0 {
			return m.endHead()
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !isToken(name) {
			return m.wrong("bad header line %q", line[:min(len(line), 64)])
		}
		value = bytes.Trim(value, " \t")
		switch {
		case equalFold(name, "content-length"):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || !allDigits(value) || m.length >= 0 && v != m.length {
				return m.wrong("bad Content-Length %q", value)
			}
			m.length = v
		case equalFold(name, "connection"):
			for _, opt := range bytes.Split(value, []byte{','}) {
				m.closing = m.closing || equalFold(bytes.Trim(opt, " \t"), "close")
			}
		case equalFold(name, "transfer-encoding"):
			codings := bytes.Split(value, []byte{','})
			m.chunked = equalFold(bytes.Trim(codings[len(codings)-1], " \t"), "chunked")
		}
	case hChunkSize:
		size, _, _ := bytes.Cut(line, []byte{';'})
		size = bytes.Trim(size, " \t")
		v, err := strconv.ParseUint(string(size), 16, 62)
		if err != nil || len(size) == 0 {
			return m.wrong("bad chunk size %q", line[:min(len(line), 64)])
		}
		m.left = int64(v)
		if v == 0 {
			m.state = hTrailers
		} else {
			m.state = hChunkData
		}
	case hChunkCRLF:
		if len(line) != 0 {
			return m.wrong("chunk not followed by CRLF")
		}
		m.state = hChunkSize
	case hTrailers:
		if len(line) == 0 {
			m.state = hDone
		}
	}
	return nil
}

// endHead picks how the body is framed (RFC 9112 §6.3).
func (m *httpMatcher) endHead() error {
	switch {
	case m.status >= 100 && m.status < 200 && m.status != 101:
		*m = httpMatcher{} // an interim response: the real one follows
	case m.status == 101:
		return m.wrong("unexpected 101 Switching Protocols")
	case m.status == 204 || m.status == 304:
		m.state = hDone
	case m.chunked:
		m.state = hChunkSize
	case m.length >= 0:
		m.left = m.length
		m.state = hBody
		if m.left == 0 {
			m.state = hDone
		}
	default:
		m.state = hBodyToEOF
	}
	return nil
}
