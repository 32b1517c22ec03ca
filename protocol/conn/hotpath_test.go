package conn_test

import (
	"fmt"
	"testing"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// requests are one request of each protocol whose session allocates
// nothing per request, for the hot-path checks.
var requests = []struct{ protocol, req string }{
	{"echo", string(make([]byte, 64))},
	{"hello", "Michael\n"},
	{"ack", "a message\n"},
}

// newConn returns an opened core of protocol name whose greeting is sent.
func newConn(tb testing.TB, name string) *conn.Conn {
	tb.Helper()
	p, err := protocol.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := p.New(protocol.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	k := conn.New(f(), conn.Options{})
	for a := k.Open(t0); len(a.Out) > 0; a = k.Wrote(len(a.Out), t0) {
	}
	return k
}

// exchange is one request through the core as a reactor makes it: the
// bytes read, the reply written in one write.
func exchange(k *conn.Conn, req []byte) error {
	a := k.Received(req, t0)
	if len(a.Out) == 0 {
		return fmt.Errorf("request %q: no reply (%+v)", req, a)
	}
	if a = k.Wrote(len(a.Out), t0); !a.WantRead || a.Close {
		return fmt.Errorf("request %q: after the reply %+v, want reading on", req, a)
	}
	return nil
}

// TestRequestAllocatesNothing: the core adds no allocation to a request,
// so a reactor's per-event path stays at 0 allocs/op.
func TestRequestAllocatesNothing(t *testing.T) {
	for _, r := range requests {
		t.Run(r.protocol, func(t *testing.T) {
			k := newConn(t, r.protocol)
			req := []byte(r.req)
			var err error
			step := func() {
				if e := exchange(k, req); e != nil && err == nil {
					err = e
				}
			}
			for range 100 {
				step() // the buffer reaches its size
			}
			if n := testing.AllocsPerRun(1000, step); n != 0 {
				t.Errorf("%v allocations per request, want 0", n)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkRequest measures the core's share of a request: the session's
// and the buffer's.
func BenchmarkRequest(b *testing.B) {
	for _, r := range requests {
		b.Run(r.protocol, func(b *testing.B) {
			k := newConn(b, r.protocol)
			req := []byte(r.req)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				if err := exchange(k, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
