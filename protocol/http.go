package protocol

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// HTTPBody is the body of the http server's answer to GET.
const HTTPBody = "Hello, world!"

// HTTPResponse is the http server's whole answer to a keep-alive GET.
const HTTPResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\n" + HTTPBody

// maxContentLength bounds a request body the http server is willing to skip.
const maxContentLength = 1 << 40

func init() {
	register(Protocol{
		Name:    "http",
		Summary: "HTTP/1.1 200 Hello, world! to GET and HEAD, keep-alive, pipelining, 400 on garbage",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			if err := checkMaxLine(o.MaxLine); err != nil {
				return nil, err
			}
			if o.MaxRequests < 0 {
				return nil, fmt.Errorf("http: max requests %d: want 0 (no limit) or more", o.MaxRequests)
			}
			if o.Framing == Raw {
				return func() Session { return new(rawHTTPSession) }, nil
			}
			return func() Session { return newHTTPSession(o.MaxLine, o.MaxRequests) }, nil
		},
		NewClient: newHTTPClient,
	})
}

// httpSession is a small HTTP/1.1 server (RFC 9112): it reads request heads
// line by line, answers each request as soon as its head is complete, skips
// a Content-Length body, and closes after Connection: close, after an
// HTTP/1.0 request that did not ask for keep-alive, and after any error.
// Pipelined requests are answered in order because a request is parsed only
// once the previous one's body is skipped. The whole head of a request is
// bounded by the line limit (default 64 KiB): past it, 431 and a close.
//
// Responses carry no Date header, so they are byte for byte deterministic.
type httpSession struct {
	split  lineSplitter
	limit  int
	closed bool
	// maxRequests bounds the requests answered on the connection (0: no
	// bound); answered counts them.
	maxRequests, answered int

	// The request being read.
	inHead    bool // the request line was seen
	headBytes int
	req       httpRequest
	bodyLeft  int64

	// held is input not yet parsed because the responses owed reached
	// HighWater (see lineSession), and heldEOF an EOF behind it.
	held    []byte
	heldEOF bool
}

// rawHTTPSession is the tutorials' "HTTP" server (seed 000's handle_request)
// under Raw framing: one read is the request, whatever it holds, and the
// answer is one 200 response with Connection: close, then an orderly close.
// Unlike the tutorial's bare "Hello, world!", the answer has a status line
// and headers, so that the tutorial's GET client (seed 001), which splits
// the head from the body at "\r\n\r\n", gets what it expects too.
type rawHTTPSession struct{}

func (rawHTTPSession) Open(time.Time, *bytes.Buffer) Step { return Step{} }

func (rawHTTPSession) Data(_ []byte, _ time.Time, out *bytes.Buffer) Step {
	writeHTTP(out, 200, "", HTTPBody, false, false, false)
	return Step{Close: true}
}

func (rawHTTPSession) EOF(time.Time, *bytes.Buffer) Step  { return Step{Close: true} }
func (rawHTTPSession) Wake(time.Time, *bytes.Buffer) Step { return Step{} }

// httpRequest is what the server keeps of a request head.
type httpRequest struct {
	method     string
	http10     bool
	host       bool
	close      bool // Connection: close
	keepAlive  bool // Connection: keep-alive
	chunked    bool // any Transfer-Encoding
	length     int64
	haveLength bool
	errCode    int // first error found in the head, answered at its end
}

func newHTTPSession(maxLine, maxRequests int) *httpSession {
	s := &httpSession{split: newLineSplitter(maxLine), maxRequests: maxRequests}
	s.limit = s.split.max
	return s
}

func (*httpSession) Open(time.Time, *bytes.Buffer) Step { return Step{} }

func (s *httpSession) Data(in []byte, _ time.Time, out *bytes.Buffer) Step {
	if len(s.held) > 0 {
		s.held = append(s.held, in...)
	} else {
		s.consume(in, out)
	}
	return s.step()
}

// step says what the session owes; a request head is under way (Partial)
// from its first byte to its blank line, and its body is not.
func (s *httpSession) step() Step {
	return Step{
		Close:   s.closed,
		More:    !s.closed && len(s.held) > 0,
		Partial: !s.closed && len(s.held) == 0 && s.bodyLeft == 0 && (s.inHead || s.split.buffered() > 0),
	}
}

// consume parses in and answers its requests until the responses owed reach
// HighWater (a pipelined request line of 18 bytes gets 90), and holds the
// rest for Wake.
func (s *httpSession) consume(in []byte, out *bytes.Buffer) {
	for !s.closed && len(in) > 0 {
		if out.Len() >= HighWater {
			s.held = append(s.held, in...)
			return
		}
		if s.bodyLeft > 0 {
			n := int(min(s.bodyLeft, int64(len(in))))
			s.bodyLeft -= int64(n)
			in = in[n:]
			continue
		}
		line, rest, ok, err := s.split.next(in)
		in = rest
		if err != nil {
			s.fail(out, 431)
			break
		}
		if ok {
			s.line(line, out)
		}
	}
}

// EOF ends the connection once the requests held are answered; an
// unfinished request is dropped unanswered, as there is no request to
// answer.
func (s *httpSession) EOF(time.Time, *bytes.Buffer) Step {
	if len(s.held) > 0 && !s.closed {
		s.heldEOF = true
		return s.step()
	}
	s.closed, s.held = true, nil
	return Step{Close: true}
}

// Wake answers the requests held, then the EOF behind them.
func (s *httpSession) Wake(now time.Time, out *bytes.Buffer) Step {
	if len(s.held) > 0 && !s.closed {
		in := s.held
		s.held = nil
		s.consume(in, out)
		if len(s.held) == 0 && s.heldEOF {
			return s.EOF(now, out)
		}
	}
	return s.step()
}

// line handles one line of a request head.
func (s *httpSession) line(line []byte, out *bytes.Buffer) {
	if !s.inHead {
		if len(line) == 0 {
			return // RFC 9112 §2.2: ignore empty lines before a request
		}
		s.inHead = true
		s.headBytes = len(line) + 2
		s.req = parseRequestLine(line)
		return
	}
	s.headBytes += len(line) + 2
	if s.headBytes > s.limit+2 {
		s.fail(out, 431)
		return
	}
	if len(line) == 0 {
		s.inHead = false
		s.respond(out)
		return
	}
	s.req.header(line)
}

// parseRequestLine parses "METHOD SP TARGET SP HTTP/1.x".
func parseRequestLine(line []byte) httpRequest {
	var r httpRequest
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest, []byte{' '})
	switch {
	case !ok1 || !ok2 || !isToken(method) || len(target) == 0 || bytes.ContainsAny(target, " \t\x00\x7f") || hasCTL(target):
		r.errCode = 400
	case string(version) == "HTTP/1.1":
	case string(version) == "HTTP/1.0":
		r.http10 = true
	case len(version) == 8 && bytes.HasPrefix(version, []byte("HTTP/")) && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]):
		r.errCode = 505
	default:
		r.errCode = 400
	}
	r.method = string(method)
	return r
}

// header folds one header line into r.
func (r *httpRequest) header(line []byte) {
	if r.errCode != 0 {
		return
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !isToken(name) || hasCTL(value) {
		r.errCode = 400 // also obs-fold and space before the colon
		return
	}
	value = bytes.Trim(value, " \t")
	switch {
	case equalFold(name, "host"):
		if r.host {
			r.errCode = 400 // RFC 9112 §3.2: more than one Host
		}
		r.host = true
	case equalFold(name, "content-length"):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 || n > maxContentLength || !allDigits(value) || r.haveLength && n != r.length {
			r.errCode = 400
			return
		}
		r.length, r.haveLength = n, true
	case equalFold(name, "transfer-encoding"):
		r.chunked = true
	case equalFold(name, "connection"):
		for _, opt := range bytes.Split(value, []byte{','}) {
			opt = bytes.Trim(opt, " \t")
			r.close = r.close || equalFold(opt, "close")
			r.keepAlive = r.keepAlive || equalFold(opt, "keep-alive")
		}
	}
}

// respond answers the request whose head just ended.
func (s *httpSession) respond(out *bytes.Buffer) {
	r := &s.req
	switch {
	case r.errCode != 0:
		s.fail(out, r.errCode)
		return
	case r.chunked:
		s.fail(out, 501) // chunked request bodies are not supported
		return
	case !r.http10 && !r.host:
		s.fail(out, 400) // RFC 9112 §3.2: HTTP/1.1 requests carry Host
		return
	}
	s.answered++
	keep := !r.close && (!r.http10 || r.keepAlive) && (s.maxRequests == 0 || s.answered < s.maxRequests)
	s.bodyLeft = r.length
	switch r.method {
	case "GET", "HEAD":
		writeHTTP(out, 200, "", HTTPBody, r.method == "HEAD", keep, r.http10)
	default:
		writeHTTP(out, 405, "Allow: GET, HEAD\r\n", "Method Not Allowed\n", false, keep, r.http10)
	}
	if !keep {
		s.closed = true
	}
}

// fail answers an error status and closes.
func (s *httpSession) fail(out *bytes.Buffer, code int) {
	writeHTTP(out, code, "", httpReason[code]+"\n", false, false, false)
	s.closed = true
}

var httpReason = map[int]string{
	200: "OK",
	400: "Bad Request",
	405: "Method Not Allowed",
	431: "Request Header Fields Too Large",
	501: "Not Implemented",
	505: "HTTP Version Not Supported",
}

// writeHTTP writes one response. An HTTP/1.0 keep-alive client is told
// Connection: keep-alive, since its default is to close.
func writeHTTP(out *bytes.Buffer, code int, extra, body string, headOnly, keep, http10 bool) {
	out.WriteString("HTTP/1.1 ")
	out.WriteString(strconv.Itoa(code))
	out.WriteByte(' ')
	out.WriteString(httpReason[code])
	out.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
	out.WriteString(strconv.Itoa(len(body)))
	out.WriteString("\r\n")
	out.WriteString(extra)
	switch {
	case !keep:
		out.WriteString("Connection: close\r\n")
	case http10:
		out.WriteString("Connection: keep-alive\r\n")
	}
	out.WriteString("\r\n")
	if !headOnly {
		out.WriteString(body)
	}
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', isDigit(c):
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

// hasCTL reports control characters other than horizontal tab.
func hasCTL(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// equalFold is ASCII case-insensitive equality with a lower-case want.
func equalFold(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
