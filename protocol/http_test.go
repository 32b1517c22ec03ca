package protocol

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	okKeep  = HTTPResponse
	okClose = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!"
	ok10    = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world!"
	headOK  = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\n"
	bad400  = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n"
	get     = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
)

func TestHTTPSession(t *testing.T) {
	tests := []struct {
		name      string
		maxLine   int
		chunks    []string
		eof       bool
		want      string
		wantClose bool
	}{
		{name: "get", chunks: []string{get}, want: okKeep},
		{name: "any path", chunks: []string{"GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n"}, want: okKeep},
		{name: "bare LF", chunks: []string{"GET / HTTP/1.1\nHost: x\n\n"}, want: okKeep},
		{name: "head has no body", chunks: []string{"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"}, want: headOK},
		{name: "pipelined", chunks: []string{get + get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"}, want: okKeep + okKeep + headOK},
		{name: "connection close", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n" + get}, want: okClose, wantClose: true},
		{name: "connection list with close", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n"}, want: okClose, wantClose: true},
		{name: "http/1.0 closes", chunks: []string{"GET / HTTP/1.0\r\n\r\n"}, want: okClose, wantClose: true},
		{name: "http/1.0 keep-alive", chunks: []string{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}, want: ok10},
		{name: "body skipped", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /" + get}, want: okKeep + okKeep},
		{name: "post is 405 keep-alive", chunks: []string{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get}, want: "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nAllow: GET, HEAD\r\n\r\nMethod Not Allowed\n" + okKeep},
		{name: "leading empty lines", chunks: []string{"\r\n\r\n" + get}, want: okKeep},
		{name: "garbage", chunks: []string{"hello\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "garbage answered after the head ends", chunks: []string{"hello\r\n"}, want: ""},
		{name: "missing host", chunks: []string{"GET / HTTP/1.1\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "two hosts", chunks: []string{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "space before colon", chunks: []string{"GET / HTTP/1.1\r\nHost : x\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "obs-fold", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "bad content-length", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "conflicting content-length", chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "chunked body", chunks: []string{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"}, want: "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\nNot Implemented\n", wantClose: true},
		{name: "http/2.0", chunks: []string{"GET / HTTP/2.0\r\n\r\n"}, want: "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 27\r\nConnection: close\r\n\r\nHTTP Version Not Supported\n", wantClose: true},
		{name: "double space", chunks: []string{"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"}, want: bad400, wantClose: true},
		{name: "head too large", maxLine: 64, chunks: []string{"GET / HTTP/1.1\r\nHost: x\r\nA: " + strings.Repeat("a", 40) + "\r\nB: " + strings.Repeat("b", 40) + "\r\n\r\n"}, want: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\nConnection: close\r\n\r\nRequest Header Fields Too Large\n", wantClose: true},
		{name: "line too long", maxLine: 16, chunks: []string{"GET /" + strings.Repeat("a", 40)}, want: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\nConnection: close\r\n\r\nRequest Header Fields Too Large\n", wantClose: true},
		{name: "eof mid-head", chunks: []string{"GET / HTTP/1.1\r\nHo"}, eof: true, want: "", wantClose: true},
		{name: "eof after request", chunks: []string{get}, eof: true, want: okKeep, wantClose: true},
		{name: "input after close ignored", chunks: []string{"hello\r\n\r\n", get}, want: bad400, wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{MaxLine: tt.maxLine}
			for _, chunks := range [][]string{tt.chunks, bytewise(strings.Join(tt.chunks, ""))} {
				got, closed, err := drive(newSession(t, "http", o), chunks, tt.eof)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want || closed != tt.wantClose {
					t.Fatalf("%d chunks: got %q close=%v,\nwant %q close=%v", len(chunks), got, closed, tt.want, tt.wantClose)
				}
			}
		})
	}
}

func TestHTTPMatcher(t *testing.T) {
	tests := []struct {
		name     string
		reply    string
		eof      bool
		wantN    int // bytes consumed; -1: all
		wantDone bool
		wantErr  error
	}{
		{name: "socklab", reply: okKeep, wantN: -1, wantDone: true},
		{name: "leaves the next response", reply: okKeep + okKeep, wantN: len(okKeep), wantDone: true},
		{name: "other body", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", wantN: -1, wantDone: true},
		{name: "chunked", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n", wantN: -1, wantDone: true},
		{name: "to eof", reply: "HTTP/1.0 200 OK\r\n\r\nabc", eof: true, wantN: -1, wantDone: true},
		{name: "to eof waits", reply: "HTTP/1.0 200 OK\r\n\r\nabc", wantN: -1},
		{name: "interim 100", reply: "HTTP/1.1 100 Continue\r\n\r\n" + okKeep, wantN: -1, wantDone: true},
		{name: "204 no body", reply: "HTTP/1.1 204 No Content\r\n\r\n", wantN: -1, wantDone: true},
		{name: "partial head", reply: "HTTP/1.1 200 OK\r\nContent-Le", wantN: len("HTTP/1.1 200 OK\r\n")},
		{name: "partial head at eof", reply: "HTTP/1.1 200 OK\r\nContent-Le", eof: true, wantN: len("HTTP/1.1 200 OK\r\n"), wantErr: ErrShortReply},
		{name: "partial body at eof", reply: okKeep[:len(okKeep)-1], eof: true, wantN: -1, wantErr: ErrShortReply},
		{name: "404", reply: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", wantN: -1, wantDone: true, wantErr: ErrRefused},
		{name: "not http", reply: "Hello, world!\n", wantN: -1, wantErr: ErrWrongReply},
		{name: "bad header", reply: "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", wantN: -1, wantErr: ErrWrongReply},
		{name: "bad length", reply: "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", wantN: -1, wantErr: ErrWrongReply},
		{name: "bad chunk", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantN: -1, wantErr: ErrWrongReply},
		{name: "endless line", reply: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHead+1), wantN: len("HTTP/1.1 200 OK\r\n"), wantErr: ErrWrongReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, done, err := NewHTTPMatcher().Match([]byte(tt.reply), tt.eof)
			wantN := tt.wantN
			if wantN < 0 {
				wantN = len(tt.reply)
			}
			if n != wantN && !errors.Is(tt.wantErr, ErrWrongReply) || done != tt.wantDone || !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("n=%d done=%v err=%v, want n=%d done=%v err=%v", n, done, err, wantN, tt.wantDone, tt.wantErr)
			}
			if tt.wantErr != nil || strings.HasSuffix(tt.name, "waits") || tt.name == "partial head" {
				return
			}
			// Byte by byte, re-presenting what was not consumed.
			m := NewHTTPMatcher()
			var pending []byte
			for i := 0; i < len(tt.reply) && !done; i++ {
				pending = append(pending, tt.reply[i])
				var k int
				k, done, err = m.Match(pending, tt.eof && i == len(tt.reply)-1)
				if err != nil {
					t.Fatalf("byte %d: %v", i, err)
				}
				pending = pending[k:]
			}
			if !done {
				t.Fatal("byte by byte: never done")
			}
		})
	}
}

func TestHTTPClient(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClientOptions
		server  string
		rounds  int
		wantErr error
	}{
		{name: "keep-alive", server: "http", rounds: 10},
		{name: "path and host", opts: ClientOptions{Path: "/x", Host: "example.test:8080"}, server: "http", rounds: 2},
		{name: "hello server", server: "hello", rounds: 1, wantErr: ErrWrongReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("http")
			c, err := p.NewClient(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = converse(newSession(t, tt.server, Options{}), c, tt.rounds)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	p, _ := Lookup("http")
	for _, o := range []ClientOptions{{Path: "no-slash"}, {Path: "/a b"}, {Host: "a\r\nX: y"}} {
		if _, err := p.NewClient(o); err == nil {
			t.Errorf("NewClient(%+v) accepted a request it cannot send", o)
		}
	}
}

func FuzzHTTPSession(f *testing.F) {
	f.Add([]byte(get+get), 3)
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n"), 7)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		o := Options{MaxLine: 256}
		cut = 1 + abs(cut)%64
		var chunks []string
		for s := string(data); len(s) > 0; {
			n := min(cut, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		s := newSession(t, "http", o)
		got, _, err := drive(s, chunks, true)
		if err != nil {
			t.Fatal(err)
		}
		one, _, _ := drive(newSession(t, "http", o), []string{string(data)}, true)
		if one != got {
			t.Fatalf("chunks of %d gave %q, one piece %q", cut, got, one)
		}
		if cap(s.(*httpSession).split.pending) > 4*(o.MaxLine+1) {
			t.Fatalf("session buffers %d bytes", cap(s.(*httpSession).split.pending))
		}
		// Everything it says must parse as responses.
		rest := []byte(got)
		for len(rest) > 0 {
			n, done, err := NewHTTPMatcher().Match(rest, true)
			if err != nil && !errors.Is(err, ErrRefused) || !done && err == nil {
				// A HEAD response has no body, which a GET matcher cannot know.
				if strings.Contains(string(data), "HEAD") {
					return
				}
				t.Fatalf("server output %q does not parse: %v", rest, err)
			}
			rest = rest[n:]
		}
	})
}

func FuzzHTTPMatcher(f *testing.F) {
	f.Add([]byte(okKeep), 5, true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 3, false)
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nx"), 1, true)
	f.Fuzz(func(t *testing.T, data []byte, cut int, eof bool) {
		cut = 1 + abs(cut)%64
		m := NewHTTPMatcher()
		var pending []byte
		for off := 0; off < len(data); off += cut {
			pending = append(pending, data[off:min(off+cut, len(data))]...)
			last := off+cut >= len(data)
			n, done, err := m.Match(pending, eof && last)
			if n < 0 || n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			pending = pending[n:]
			if len(pending) > maxResponseHead+cut {
				t.Fatalf("matcher leaves %d bytes unconsumed", len(pending))
			}
			if done || err != nil {
				return
			}
		}
	})
}

// ExampleNewHTTPMatcher checks a response that arrives in two pieces, the way
// the load generator reads one from a socket.
func ExampleNewHTTPMatcher() {
	m := NewHTTPMatcher()
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	n, done, err := m.Match(reply[:20], false)
	fmt.Println(n, done, err)
	// The caller keeps the unconsumed bytes and presents them again.
	n2, done, err := m.Match(reply[n:], false)
	fmt.Println(n+n2 == len(reply), done, err)
	// Output:
	// 17 false <nil>
	// true true <nil>
}

// TestHTTPMaxRequests: like nginx's keepalive_requests, the last answer a
// connection gets says Connection: close, the server closes, and a request
// after it is not answered.
func TestHTTPMaxRequests(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	got, closed, err := drive(newSession(t, "http", Options{MaxRequests: 2}), []string{get + get + get}, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got, "HTTP/1.1 200"); n != 2 || !closed {
		t.Fatalf("%d responses, closed %v; want 2 and a close:\n%s", n, closed, got)
	}
	first, second, _ := strings.Cut(got[len("HTTP/1.1"):], "HTTP/1.1")
	if strings.Contains(first, "Connection: close") || !strings.Contains(second, "Connection: close") {
		t.Errorf("want Connection: close on the second response only:\n%s", got)
	}
	m := NewHTTPMatcher()
	if n, done, err := m.Match([]byte("HTTP/1.1"+second), false); err != nil || !done || n != len(second)+len("HTTP/1.1") || !ClosesConnection(m) {
		t.Errorf("matcher on the last response: n %d done %v err %v closes %v; want it whole and closing", n, done, err, ClosesConnection(m))
	}
	m = NewHTTPMatcher()
	if _, done, err := m.Match([]byte(HTTPResponse), false); err != nil || !done || ClosesConnection(m) {
		t.Errorf("matcher on a keep-alive response: done %v err %v closes %v; want it whole and not closing", done, err, ClosesConnection(m))
	}
	p, err := Lookup("http")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.New(Options{MaxRequests: -1}); err == nil {
		t.Error("MaxRequests -1 accepted")
	}
}
