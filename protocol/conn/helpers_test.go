package conn_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// t0 is the fake clock's start: the core reads no clock, so tests pass now.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// fake is a scripted session: each call is logged and answered by the
// matching function (nil: no output, zero Step).
type fake struct {
	open func(out *bytes.Buffer) protocol.Step
	data func(in []byte, out *bytes.Buffer) protocol.Step
	eof  func(out *bytes.Buffer) protocol.Step
	wake func(now time.Time, out *bytes.Buffer) protocol.Step

	calls    []string
	releases int
	// late records a call made after Release, which must never happen.
	late []string
}

func (f *fake) log(call string) {
	if f.releases > 0 {
		f.late = append(f.late, call)
	}
	f.calls = append(f.calls, call)
}

func (f *fake) Open(_ time.Time, out *bytes.Buffer) protocol.Step {
	f.log("open")
	if f.open == nil {
		return protocol.Step{}
	}
	return f.open(out)
}

func (f *fake) Data(in []byte, _ time.Time, out *bytes.Buffer) protocol.Step {
	f.log("data:" + string(in))
	if f.data == nil {
		return protocol.Step{}
	}
	return f.data(in, out)
}

func (f *fake) EOF(_ time.Time, out *bytes.Buffer) protocol.Step {
	f.log("eof")
	if f.eof == nil {
		return protocol.Step{}
	}
	return f.eof(out)
}

func (f *fake) Wake(now time.Time, out *bytes.Buffer) protocol.Step {
	f.log("wake")
	if f.wake == nil {
		return protocol.Step{}
	}
	return f.wake(now, out)
}

// count returns how many calls of f's log start with prefix.
func (f *fake) count(prefix string) int {
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// releasing is a fake that holds resources: a protocol.Releaser.
type releasing struct{ *fake }

func (r releasing) Release() { r.releases++ }

// echo answers every byte with itself and closes on EOF, as RFC 862 does.
func echo() *fake {
	return &fake{
		data: func(in []byte, out *bytes.Buffer) protocol.Step { out.Write(in); return protocol.Step{} },
		eof:  func(*bytes.Buffer) protocol.Step { return protocol.Step{Close: true} },
	}
}

// checked fails t if a breaks the contract of an Action: Out, FIN and Close
// exclusive, and something to wait for in every action that is not Close
// unless a call is in flight (inFlight).
func checked(t *testing.T, a conn.Action, inFlight bool) conn.Action {
	t.Helper()
	n := 0
	for _, set := range []bool{len(a.Out) > 0, a.FIN, a.Close} {
		if set {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("action %s: Out, FIN and Close together", show(a))
	}
	if len(a.Out) > 0 && !a.WantWrite {
		t.Fatalf("action %s: output without write interest", show(a))
	}
	if a.Close && (a.WantRead || a.WantWrite || !a.WakeAt.IsZero()) {
		t.Fatalf("action %s: Close with something left to wait for", show(a))
	}
	waits := a.WantRead || a.WantWrite || !a.WakeAt.IsZero() || a.FIN || a.Call != nil
	if !a.Close && !waits && !inFlight {
		t.Fatalf("action %s: nothing to do and nothing to wait for: the connection would hang", show(a))
	}
	return a
}

// show prints an action for failure messages.
func show(a conn.Action) string {
	var b strings.Builder
	b.WriteString("{")
	if a.Call != nil {
		b.WriteString(" Call")
	}
	if len(a.Out) > 0 {
		if len(a.Out) > 32 {
			fmt.Fprintf(&b, " Out:%d bytes", len(a.Out))
		} else {
			fmt.Fprintf(&b, " Out:%q", a.Out)
		}
	}
	for _, f := range []struct {
		set  bool
		name string
	}{{a.FIN, "FIN"}, {a.Close, "Close"}, {a.WantRead, "WantRead"}, {a.WantWrite, "WantWrite"}} {
		if f.set {
			b.WriteString(" " + f.name)
		}
	}
	if !a.WakeAt.IsZero() {
		fmt.Fprintf(&b, " WakeAt:t0+%v", a.WakeAt.Sub(t0))
	}
	b.WriteString(" }")
	return b.String()
}

// flush writes every byte the core offers, as a driver whose socket always
// has room does, and returns the bytes and the action that follows.
func flush(t *testing.T, k *conn.Conn, a conn.Action, now time.Time) (string, conn.Action) {
	t.Helper()
	var sent strings.Builder
	for i := 0; len(a.Out) > 0; i++ {
		if i > 1<<16 {
			t.Fatal("output never ends")
		}
		sent.Write(a.Out)
		a = checked(t, k.Wrote(len(a.Out), now), false)
	}
	return sent.String(), a
}
