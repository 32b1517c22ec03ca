package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// httpSpecs: the HTTP/1.1 hello-world server. The requests are the http
// client's (protocol/http_client.go): keep-alive GETs under line framing,
// one GET with Connection: close per connection under raw.
func init() {
	behave("http-get", func(s *spec) {
		c := connectNoGreeting(s)
		req, _ := c.next()
		s.check(c.Write(req), "the request to be sent", "")
		if s.raw() {
			readRawHTTP(s, c, "GET /")
			return
		}
		readHTTP(s, c, newHTTPReader(c.NetConn()), "GET /")
	})

	behave("http-keepalive", func(s *spec) {
		if s.raw() {
			s.skip("http-keepalive needs HTTP/1.1 keep-alive; under raw framing (the tutorials' HTTP dialect) a server answers one request per connection and closes")
		}
		c := connectNoGreeting(s)
		br := newHTTPReader(c.NetConn())
		// A server may end a connection after a response that says
		// Connection: close (nginx after keepalive_requests): the requests
		// after it go again on a new connection. Ending every connection
		// after its first response is no keep-alive at all: a should.
		onConn, noKeepAlive := 0, false
		answered := func(what string) (closed bool) {
			resp := readHTTP(s, c, br, what)
			onConn++
			if !resp.Close {
				return false
			}
			if onConn == 1 && !noKeepAlive {
				noKeepAlive = true
				s.shouldf("a connection kept alive for more than one request", "Connection: close after "+what+", the first response on its connection",
					"the server does not implement HTTP/1.1 persistent connections")
			}
			c.Close()
			seq := c.seq
			c = connectNoGreeting(s)
			c.seq = seq
			br = newHTTPReader(c.NetConn())
			onConn = 0
			return true
		}
		for i := 0; i < 3; i++ {
			req, _ := c.next()
			s.check(c.Write(req), fmt.Sprintf("request %d to be sent on the same connection", i+1),
				"the server closed the connection after one response (no keep-alive)")
			answered(fmt.Sprintf("request %d on one connection", i+1))
		}
		const pipelined = 5
		var all []byte
		var ends []int
		for i := 0; i < pipelined; i++ {
			all, _ = c.pc.Next(all, c.seq)
			c.seq++
			ends = append(ends, len(all))
		}
		s.check(c.Write(all), "pipelined requests to be sent", "the server closed the connection")
		for i := 0; i < pipelined; i++ {
			if answered(fmt.Sprintf("pipelined request %d of %d", i+1, pipelined)) && i+1 < pipelined {
				s.check(c.Write(all[ends[i]:]), "the pipelined requests after a Connection: close sent again on a new connection", "the server refused the new connection")
			}
		}
	})

	behave("http-malformed", func(s *spec) {
		if s.raw() {
			s.skip("http-malformed needs an HTTP parser; under raw framing (the tutorials' HTTP dialect) a server answers whatever one read holds with its page")
		}
		c := connectNoGreeting(s)
		// Deliberately not HTTP: a request line without method, target
		// and version, ended as a head ends.
		s.check(c.Write([]byte("THIS IS NOT HTTP\r\n\r\n")), "garbage to be sent", "")
		br := newHTTPReader(c.NetConn())
		s.check(c.NetConn().SetReadDeadline(time.Now().Add(s.Timeout)), "", "")
		resp, err := http.ReadResponse(br.Reader, nil)
		br.checkFlood(s, err, "a response to a malformed request, or a close")
		switch {
		case err != nil:
			s.shouldf("a 400 response to a malformed request", err.Error(), "the server closes, or waits, without saying why")
		case resp.StatusCode < 300:
			s.failf("a malformed request refused (400)", resp.Status, "the server answers whatever it is sent as if it were a valid request")
		case resp.StatusCode != http.StatusBadRequest:
			s.shouldf("status 400 to a malformed request", resp.Status, "the server refuses it with another status")
		}
		if resp != nil {
			resp.Body.Close()
		}
		servedFresh(s, "a malformed request")
	})
}

// httpReader reads HTTP responses from one connection, at most
// wire.MaxCollect bytes of them in all: net/http's parser bounds neither a
// line, nor the headers, nor a body with its Content-Length or chunks.
type httpReader struct {
	*bufio.Reader
	capped *wire.CappedReader
}

func newHTTPReader(r io.Reader) *httpReader {
	cr := &wire.CappedReader{R: r, Limit: wire.MaxCollect, While: "in HTTP responses on one connection"}
	return &httpReader{Reader: bufio.NewReader(cr), capped: cr}
}

// checkFlood fails the behaviour if the read that returned err went past
// the bound.
func (hr *httpReader) checkFlood(s *spec, err error, expected string) {
	if err == nil {
		return
	}
	s.checkFlood(err, expected)
	s.checkFlood(hr.capped.Err(), expected)
}

// readHTTP reads one response from the connection, checks it and returns
// it (its body read and closed).
func readHTTP(s *spec, c *client, br *httpReader, what string) *http.Response {
	s.check(c.NetConn().SetReadDeadline(time.Now().Add(s.Timeout)), "", "")
	return checkHTTP(s, br, what)
}

// readRawHTTP reads the answer of the raw dialect, whole up to the server's
// close (the request said Connection: close), and checks it: a response,
// or, as the tutorial's server sends it, the bare body.
func readRawHTTP(s *spec, c *client, what string) {
	ending, got := c.untilClosed(s.Timeout, "the answer to "+what+", then an orderly close")
	if ending != wire.EOF {
		s.failf("the answer to "+what+", then an orderly close (the request asked for Connection: close)",
			fmt.Sprintf("%s after %s", ending, quote(got)),
			"the server keeps the connection open after its answer, or resets it")
	}
	if !bytes.HasPrefix(got, []byte("HTTP/")) {
		if string(got) != protocol.HTTPBody {
			s.failf(fmt.Sprintf("a response, or the bare body %q, to %s", protocol.HTTPBody, what), "the bytes "+quote(got), "the server sends another body")
		}
		s.note("bare body", "the server answers with the body alone, no status line or headers (the tutorial's dialect)")
		return
	}
	checkHTTP(s, newHTTPReader(bytes.NewReader(got)), what)
}

// checkHTTP reads one response and checks it is 200 with the hello body.
func checkHTTP(s *spec, br *httpReader, what string) *http.Response {
	resp, err := http.ReadResponse(br.Reader, nil)
	br.checkFlood(s, err, "a response to "+what)
	if err != nil {
		s.failf("a response to "+what, err.Error(), "the server closed the connection, or answers only the first request of a read")
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	br.checkFlood(s, err, "the whole body of the response to "+what)
	if err != nil {
		s.failf("the whole body of the response to "+what, err.Error(), "the Content-Length does not match the body")
	}
	if resp.StatusCode != http.StatusOK {
		s.failf("200 OK to "+what, resp.Status, "the server does not route /")
	}
	if string(body) != protocol.HTTPBody {
		s.failf(fmt.Sprintf("the body %q", protocol.HTTPBody), fmt.Sprintf("%q", body), "the server sends another body")
	}
	return resp
}
