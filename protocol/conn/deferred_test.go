package conn_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// inFlight runs c on a goroutine of its own, as an executor's worker does,
// and returns a function that waits for it. Under -race, what the test does
// on the Conn meanwhile proves that Run touches nothing the driver does.
func inFlight(t *testing.T, c *conn.Call) (wait func()) {
	t.Helper()
	if c == nil {
		t.Fatal("no Call handed out")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(t0)
	}()
	return func() { <-done }
}

// bracket answers each input with itself in brackets.
func bracket() *fake {
	return &fake{data: func(in []byte, out *bytes.Buffer) protocol.Step {
		out.WriteString("[" + string(in) + "]")
		return protocol.Step{}
	}}
}

func TestDeferredCallsOneAtATimeInOrder(t *testing.T) {
	f := bracket()
	k := conn.New(f, conn.Options{Deferred: true})
	a := checked(t, k.Open(t0), true)
	if len(f.calls) != 0 {
		t.Fatalf("a Deferred Conn called the session itself: %q", f.calls)
	}
	wait := inFlight(t, a.Call)
	for _, in := range []string{"a", "b"} {
		if a := checked(t, k.Received([]byte(in), t0), true); a.Call != nil || !a.WantRead {
			t.Fatalf("input %q with a call in flight: %s; want it queued, and reading on", in, show(a))
		}
	}
	wait()
	a = checked(t, k.Done(), true)
	for _, want := range []string{"[a]", "[a][b]"} {
		inFlight(t, a.Call)()
		a = checked(t, k.Done(), want == "[a][b]")
		if string(a.Out) != want {
			t.Fatalf("after Done: Out %q, want %q", a.Out, want)
		}
	}
	if a.Call != nil {
		t.Fatalf("a Call with nothing queued: %s", show(a))
	}
	if got := strings.Join(f.calls, " "); got != "open data:a data:b" {
		t.Fatalf("session calls %q, want open, data:a, data:b", got)
	}
}

func TestDeferredQueuedInputCountsTowardHighWater(t *testing.T) {
	k := conn.New(echo(), conn.Options{Deferred: true})
	a := k.Open(t0)
	wait := inFlight(t, a.Call)
	if a := checked(t, k.Received(make([]byte, protocol.HighWater), t0), true); a.WantRead {
		t.Fatalf("HighWater bytes queued: %s; want reading paused", show(a))
	}
	wait()
	a = checked(t, k.Done(), true)
	if !a.WantRead {
		t.Fatalf("queued input handed to the session: %s; want reading on", show(a))
	}
	inFlight(t, a.Call)()
	if a = checked(t, k.Done(), false); a.WantRead || len(a.Out) != protocol.HighWater {
		t.Fatalf("HighWater bytes of output: %s; want reading paused", show(a))
	}
}

func TestDeferredInputAfterCloseIsDropped(t *testing.T) {
	f := closer()
	k := conn.New(f, conn.Options{Deferred: true})
	a := k.Open(t0)
	wait := inFlight(t, a.Call)
	k.Received([]byte("q"), t0)
	k.Received([]byte("more"), t0)
	k.EOF(t0)
	wait()
	a = checked(t, k.Done(), true)
	inFlight(t, a.Call)()
	a = checked(t, k.Done(), false)
	if a.Call != nil || string(a.Out) != "bye\n" {
		t.Fatalf("after the session's Close: %s; want Out \"bye\\n\" and no more calls", show(a))
	}
	if a = checked(t, k.Wrote(len(a.Out), t0), false); !a.FIN {
		t.Fatalf("flushed: %s; want FIN", show(a))
	}
	if got := strings.Join(f.calls, " "); got != "open data:q" {
		t.Fatalf("session calls %q, want open, data:q", got)
	}
}

func TestDeferredMoreIsQueuedNotWaitedFor(t *testing.T) {
	var buffered []int
	f := bigReply(100<<10, 40<<10, &buffered)
	k := conn.New(f, conn.Options{Deferred: true})
	inFlight(t, k.Open(t0).Call)()
	k.Done()
	a := k.Received([]byte("get\n"), t0)
	inFlight(t, a.Call)()
	a = checked(t, k.Done(), true)
	if a.Call == nil || string(a.Out) != "yes\n" {
		t.Fatalf("the header with More set: %s; want Out \"yes\\n\" and a Call for More", show(a))
	}
	wait := inFlight(t, a.Call)
	a = checked(t, k.Wrote(len(a.Out), t0), true)
	if a.Call != nil || a.WantWrite {
		t.Fatalf("flushed with a More call in flight: %s; want no second call and no write interest", show(a))
	}
	if a = checked(t, k.Writable(t0), true); a.Call != nil {
		t.Fatalf("Writable with a More call in flight: %s; want no second call", show(a))
	}
	wait()
	sent := 0
	for a = k.Done(); len(a.Out) > 0 || a.Call != nil; {
		if a.Call != nil {
			inFlight(t, a.Call)()
			a = k.Done()
			continue
		}
		sent += len(a.Out)
		a = checked(t, k.Wrote(len(a.Out), t0), true)
	}
	if sent != 100<<10 {
		t.Fatalf("sent %d bytes of the reply, want %d", sent, 100<<10)
	}
	if len(buffered) != 3 {
		t.Fatalf("%d More wake-ups for 3 chunks: one was queued twice", len(buffered))
	}
}

func TestDeferredReleaseWaitsForTheCallInFlight(t *testing.T) {
	f := echo()
	k := conn.New(releasing{f}, conn.Options{Deferred: true})
	wait := inFlight(t, k.Open(t0).Call)
	if a := k.Abort(); !a.Close {
		t.Fatalf("Abort: %s; want Close", show(a))
	}
	wait()
	if f.releases != 0 {
		t.Fatal("released while a call was still using the session")
	}
	if a := k.Done(); a.Close || a.Call != nil {
		t.Fatalf("Done after Close: %s; want the zero Action", show(a))
	}
	if f.releases != 1 {
		t.Fatalf("%d releases after the call in flight returned, want 1", f.releases)
	}
	k.Done()
	k.Abort()
	if f.releases != 1 {
		t.Fatalf("%d releases after more events, want 1", f.releases)
	}
}

// TestDeferredInputWaitsWhileOutputOwed: a Deferred session sees only its
// call's buffer, so it can keep what it owes under HighWater only if the
// connection owes little when the call starts: input waits in the queue
// while LowWater bytes or more are owed, and goes once they are written.
func TestDeferredInputWaitsWhileOutputOwed(t *testing.T) {
	f := echo()
	k := conn.New(f, conn.Options{Deferred: true})
	a := k.Open(t0)
	inFlight(t, a.Call)()
	checked(t, k.Done(), false)
	a = checked(t, k.Received(make([]byte, protocol.LowWater), t0), true)
	inFlight(t, a.Call)()
	a = checked(t, k.Done(), false)
	if len(a.Out) != protocol.LowWater {
		t.Fatalf("after the first call: %s; want LowWater bytes owed", show(a))
	}
	if a = checked(t, k.Received([]byte("next"), t0), false); a.Call != nil {
		t.Fatalf("LowWater bytes owed, input arrives: %s; want it queued, no call", show(a))
	}
	a = checked(t, k.Wrote(1, t0), false)
	if a.Call == nil {
		t.Fatalf("below LowWater owed: %s; want the queued input's call", show(a))
	}
	inFlight(t, a.Call)()
	if got := strings.Join(f.calls, " "); !strings.HasSuffix(got, "data:next") {
		t.Fatalf("session calls %q, want the queued input last", got)
	}
}
