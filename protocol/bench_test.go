package protocol

import (
	"bytes"
	"testing"
)

// benchSession measures one request-reply exchange of a session, the
// protocol's share of a server's per-request cost.
func benchSession(b *testing.B, name string, req string) {
	s := newSession(b, name, Options{})
	var out bytes.Buffer
	s.Open(t0, &out)
	in := []byte(req)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if st := s.Data(in, t0, &out); st.Close || out.Len() == 0 {
			b.Fatalf("step %+v, output %q", st, out.String())
		}
	}
}

func BenchmarkHelloSession(b *testing.B) { benchSession(b, "hello", "Michael\n") }
func BenchmarkAckSession(b *testing.B)   { benchSession(b, "ack", "a message\n") }
func BenchmarkHTTPSession(b *testing.B) {
	benchSession(b, "http", "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: socklab\r\n\r\n")
}
