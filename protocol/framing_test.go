package protocol

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFraming(t *testing.T) {
	for _, f := range []Framing{Line, Raw, Auto} {
		got, err := ParseFraming(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFraming(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFraming("lines"); err == nil || !strings.Contains(err.Error(), "want line, raw or auto") {
		t.Errorf("ParseFraming(lines) err = %v, want the valid values named", err)
	}
}

// Auto must be resolved before a session or a client is made: a server does
// not probe, and a client that guessed would send the wrong bytes.
func TestAutoIsRefused(t *testing.T) {
	for _, p := range All() {
		if _, err := p.New(Options{Framing: Auto, Root: t.TempDir()}); err == nil {
			t.Errorf("%s: New accepted framing auto", p.Name)
		}
		if _, err := p.NewClient(ClientOptions{Options: Options{Framing: Auto}, Name: "x"}); err == nil {
			t.Errorf("%s: NewClient accepted framing auto", p.Name)
		}
	}
}

// TestRawSessions drives each framed protocol with the tutorials' own bytes:
// one chunk is one read, and the answers carry no terminator.
func TestRawSessions(t *testing.T) {
	tests := []struct {
		name      string
		protocol  string
		opts      Options
		chunks    []string
		eof       bool
		want      string
		wantClose bool
	}{
		{name: "hello as the tutorial's client", protocol: "hello",
			chunks: []string{"Michael", "Tracy", "Sarah", "exit"},
			want:   "Welcome!Hello, Michael!Hello, Tracy!Hello, Sarah!", wantClose: true},
		{name: "hello: a newline is part of the name", protocol: "hello",
			chunks: []string{"Bob\n"}, want: "Welcome!Hello, Bob\n!"},
		{name: "hello: exit must be a read of its own", protocol: "hello",
			chunks: []string{"exit now"}, want: "Welcome!Hello, exit now!"},
		{name: "hello: eof closes", protocol: "hello", chunks: []string{"a"}, eof: true,
			want: "Welcome!Hello, a!", wantClose: true},
		{name: "hello: a read over the limit", protocol: "hello", opts: Options{MaxLine: 4},
			chunks: []string{"abcd", "abcde"},
			want:   "Welcome!Hello, abcd!error: message longer than 4 bytes", wantClose: true},
		{name: "ack per read", protocol: "ack", chunks: []string{"hello", "a\nb\n"},
			want: AckReply + AckReply},
		{name: "ack quoting the message, as seed 003's socketserver", protocol: "ack",
			opts:   Options{AckReply: "Server received your message:" + AckQuote},
			chunks: []string{"hello"}, want: "Server received your message:hello"},
		{name: "banner", protocol: "banner", eof: true, want: DefaultBanner, wantClose: true},
		{name: "poetry", protocol: "poetry", opts: Options{Poem: []string{"a", "b"}, LineDelay: 1},
			want: "a"},
		{name: "http: any read gets the answer and a close", protocol: "http",
			chunks:    []string{"Hello, world"},
			want:      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!",
			wantClose: true},
		{name: "echo is framing-free", protocol: "echo", chunks: []string{"ab", "c\n"}, want: "abc\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Framing = Raw
			got, closed, err := drive(newSession(t, tt.protocol, o), tt.chunks, tt.eof)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || closed != tt.wantClose {
				t.Fatalf("got %q close=%v, want %q close=%v", got, closed, tt.want, tt.wantClose)
			}
		})
	}
}

// TestRawFileSession is the tutorial's client's exchange (seed 004): put
// with its size, the server's bare ok, the bytes; get with the client's
// trailing >2, yes:SIZE, the client's bare ok, the bytes.
func TestRawFileSession(t *testing.T) {
	root := t.TempDir()
	p, _ := Lookup("file")
	f, err := p.New(Options{Root: root, Framing: Raw})
	must(t, err)
	s := f()
	defer s.(Releaser).Release()
	got, _, err := drive(s, []string{"put>up.txt>5", "hel", "lo", "get>up.txt>2", "ok", "get>nope>2", "bogus"}, false)
	must(t, err)
	if want := "okyes:5hellono: not foundno: unknown command"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(root, "up.txt"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("uploaded file: %q, %v", b, err)
	}
}

// TestRawClientsAgainstRawServers runs each framed protocol's raw client
// against its raw server in memory, every reply checked by the client's
// matchers.
func TestRawClientsAgainstRawServers(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f"), []byte(strings.Repeat("x", 100<<10)), 0o644))
	tests := []struct {
		protocol string
		client   ClientOptions
		rounds   int
	}{
		{protocol: "hello", rounds: 3},
		{protocol: "hello", client: ClientOptions{Name: "Michael"}, rounds: 3},
		{protocol: "ack", rounds: 3},
		{protocol: "ack", client: ClientOptions{Options: Options{AckReply: "got {msg}!"}}, rounds: 3},
		{protocol: "banner", rounds: 1},
		{protocol: "poetry", rounds: 1},
		{protocol: "file", client: ClientOptions{Name: "f"}, rounds: 3},
		{protocol: "http", rounds: 1},
		{protocol: "echo", rounds: 3},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			p, _ := Lookup(tt.protocol)
			so := tt.client.Options
			so.Framing, so.Root = Raw, root
			co := tt.client
			co.Options = so
			c, err := p.NewClient(co)
			must(t, err)
			s := newSession(t, tt.protocol, so)
			if r, ok := s.(Releaser); ok {
				defer r.Release()
			}
			if err := converse(s, c, tt.rounds); err != nil {
				t.Fatal(err)
			}
			// Nothing a raw client sends may end in the line terminator
			// that a tutorial server would take for part of the message.
			req, _ := c.Next(nil, 0)
			if strings.HasSuffix(string(req), "\n") && tt.protocol != "http" {
				t.Fatalf("raw request %q ends in a newline", req)
			}
		})
	}
}

func TestRawHTTPMatcher(t *testing.T) {
	tests := []struct {
		name     string
		reply    string
		eof      bool
		wantDone bool
		wantErr  error
	}{
		{name: "waits for EOF", reply: "Hello, world!"},
		{name: "the tutorial's bare body", reply: "Hello, world!", eof: true, wantDone: true},
		{name: "a response", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", eof: true, wantDone: true},
		{name: "a response to EOF", reply: "HTTP/1.0 200 OK\r\n\r\nhi", eof: true, wantDone: true},
		{name: "an error status", reply: "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", eof: true, wantErr: ErrRefused},
		{name: "a cut response", reply: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", eof: true, wantErr: ErrShortReply},
		{name: "bytes after the response", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiya", eof: true, wantErr: ErrWrongReply},
		{name: "nothing", eof: true, wantErr: ErrShortReply},
		{name: "endless", reply: strings.Repeat("x", maxResponseHead+1), wantErr: ErrWrongReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m rawHTTPMatcher
			_, done, err := m.Match([]byte(tt.reply), tt.eof)
			if done != tt.wantDone || !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("done=%v err=%v, want done=%v err=%v", done, err, tt.wantDone, tt.wantErr)
			}
		})
	}
}

func TestAckReplyOption(t *testing.T) {
	p, _ := Lookup("ack")
	if _, err := p.New(Options{AckReply: "{msg} and {msg}"}); err == nil {
		t.Error("a reply quoting the message twice was accepted")
	}
	got, _, err := drive(newSession(t, "ack", Options{AckReply: "[{msg}]"}), []string{"a\nbc\n"}, false)
	if err != nil || got != "[a]\n[bc]\n" {
		t.Errorf("line ack with a quote: %q, %v", got, err)
	}
}

func TestMessageMatcher(t *testing.T) {
	tests := []struct {
		name     string
		f        Framing
		in       string
		eof      bool
		wantN    int
		wantDone bool
		wantMsg  string
		wantErr  error
	}{
		{name: "line", f: Line, in: "ok\r\nrest", wantN: 4, wantDone: true, wantMsg: "ok"},
		{name: "empty line", f: Line, in: "\n", wantN: 1, wantDone: true, wantMsg: ""},
		{name: "unfinished line", f: Line, in: "ok"},
		{name: "unfinished line at EOF", f: Line, in: "ok", eof: true, wantErr: ErrShortReply},
		{name: "line too long", f: Line, in: "abcdefghijk", wantErr: ErrWrongReply},
		{name: "raw takes what came", f: Raw, in: "yes:5\r\n", wantN: 7, wantDone: true, wantMsg: "yes:5\r\n"},
		{name: "raw nothing yet", f: Raw},
		{name: "raw nothing at EOF", f: Raw, eof: true, wantErr: ErrShortReply},
		{name: "raw too long", f: Raw, in: "abcdefghijk", wantErr: ErrWrongReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessageMatcher(tt.f, 8)
			n, done, err := m.Match([]byte(tt.in), tt.eof)
			if n != tt.wantN || done != tt.wantDone || !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("n=%d done=%v err=%v, want n=%d done=%v err=%v", n, done, err, tt.wantN, tt.wantDone, tt.wantErr)
			}
			if done && string(m.Message()) != tt.wantMsg {
				t.Fatalf("message %q, want %q", m.Message(), tt.wantMsg)
			}
		})
	}
}

func TestFileRequests(t *testing.T) {
	if got := string(AppendFilePut(nil, "up.txt", 23, Raw)); got != "put>up.txt>23" {
		t.Errorf("raw put %q", got)
	}
	if got := string(AppendFileGet(AppendFileOK(nil, Line), "a", Line)); got != "ok\nget>a\n" {
		t.Errorf("line ok+get %q", got)
	}
}

func TestTextEcho(t *testing.T) {
	p, _ := Lookup("echo")
	c, err := p.NewClient(ClientOptions{Text: true, Size: 300})
	must(t, err)
	a, _ := c.Next(nil, 1)
	b, _ := c.Next(nil, 2)
	if string(a) == string(b) {
		t.Fatal("two requests' payloads are equal")
	}
	for _, ch := range a {
		if ch < '!' || ch > '~' {
			t.Fatalf("byte %#x is not printable ASCII", ch)
		}
	}
	if err := converse(newSession(t, "echo", Options{}), c, 3); err != nil {
		t.Fatal(err)
	}
}

func TestRunsOver(t *testing.T) {
	echo, _ := Lookup("echo")
	hello, _ := Lookup("hello")
	for _, tc := range []struct {
		p       Protocol
		network string
		want    bool
	}{
		{echo, "tcp", true}, {echo, "udp6", true}, {echo, "unixgram", true}, {echo, "unix", true},
		{hello, "tcp", true}, {hello, "unix", true}, {hello, "udp", false}, {hello, "unixgram", false},
	} {
		if got := tc.p.RunsOver(tc.network); got != tc.want {
			t.Errorf("%s over %s: %v, want %v", tc.p.Name, tc.network, got, tc.want)
		}
	}
	if !IsUnix("unixpacket") || IsUnix("tcp") || IsDatagram("unix") {
		t.Error("network kinds are wrong")
	}
}
