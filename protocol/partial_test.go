package protocol

import (
	"bytes"
	"testing"
)

// TestStepPartialMarksARequestUnderWay: a session says Partial from the
// first byte of a request's head to its end, and not for a request's body
// or under Raw framing, so that a driver's request timeout runs exactly
// while a request is arriving.
func TestStepPartialMarksARequestUnderWay(t *testing.T) {
	root, _ := fileRoot(t)
	tests := []struct {
		name    string
		proto   string
		framing Framing
		input   []string // each a Data call; Partial is checked after the last
		want    bool
	}{
		{name: "hello name without its end", proto: "hello", input: []string{"Bo"}, want: true},
		{name: "hello name whole", proto: "hello", input: []string{"Bo", "b\n"}},
		{name: "hello line and the start of the next", proto: "hello", input: []string{"Bob\nAl"}, want: true},
		{name: "hello raw", proto: "hello", framing: Raw, input: []string{"Bo"}},
		{name: "ack unfinished", proto: "ack", input: []string{"msg"}, want: true},
		{name: "http head unfinished", proto: "http", input: []string{"GET / HTTP/1.1\r\nHost: x\r\n"}, want: true},
		{name: "http request line unfinished", proto: "http", input: []string{"GE"}, want: true},
		{name: "http head whole", proto: "http", input: []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}},
		{name: "http body under way", proto: "http", input: []string{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"}},
		{name: "file command unfinished", proto: "file", input: []string{"get>hel"}, want: true},
		{name: "file put bytes under way", proto: "file", input: []string{"put>x>10\nabc"}},
		{name: "file awaiting ok", proto: "file", input: []string{"get>hello.txt\n"}},
		{name: "echo", proto: "echo", input: []string{"abc"}},
		{name: "poetry", proto: "poetry", input: []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, tt.proto, Options{Framing: tt.framing, Root: root})
			if r, ok := s.(Releaser); ok {
				defer r.Release()
			}
			var out bytes.Buffer
			st := s.Open(t0, &out)
			if st.Partial {
				t.Fatalf("Open: Partial, want no request under way")
			}
			for _, in := range tt.input {
				st = s.Data([]byte(in), t0, &out)
			}
			if st.Partial != tt.want {
				t.Fatalf("after %q: Partial %v, want %v", tt.input, st.Partial, tt.want)
			}
		})
	}
}
