package conn_test

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

func TestPartialWritesKeepTheRest(t *testing.T) {
	const msg = "hello, partial world"
	tests := []struct {
		name  string
		takes []int // what the socket takes of each write
	}{
		{name: "all at once", takes: []int{len(msg)}},
		{name: "two halves", takes: []int{10, 10}},
		{name: "byte by byte", takes: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{name: "a full socket takes nothing", takes: []int{3, 0, 0, 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := conn.New(echo(), conn.Options{})
			checked(t, k.Open(t0), false)
			a := checked(t, k.Received([]byte(msg), t0), false)
			sent := 0
			for i, n := range tt.takes {
				if got, want := string(a.Out), msg[sent:]; got != want {
					t.Fatalf("before write %d (%d sent): Out %q, want %q", i, sent, got, want)
				}
				a = checked(t, k.Wrote(n, t0), false)
				sent += n
			}
			if len(a.Out) != 0 || a.WantWrite || !a.WantRead {
				t.Fatalf("after every byte was written: %s; want only WantRead", show(a))
			}
		})
	}
}

func TestWroteMoreThanOutPanics(t *testing.T) {
	k := conn.New(echo(), conn.Options{})
	k.Open(t0)
	a := k.Received([]byte("abc"), t0)
	defer func() {
		if recover() == nil {
			t.Fatalf("Wrote(%d) of a %d-byte Out did not panic", len(a.Out)+1, len(a.Out))
		}
	}()
	k.Wrote(len(a.Out)+1, t0)
}

func TestHighWaterPausesReading(t *testing.T) {
	tests := []struct {
		name     string
		received []int // sizes of the reads, echoed
		wrote    int   // then written
		wantRead bool
	}{
		{name: "below", received: []int{protocol.HighWater - 1}, wantRead: true},
		{name: "at", received: []int{protocol.HighWater}, wantRead: false},
		{name: "over in two reads", received: []int{protocol.HighWater / 2, protocol.HighWater/2 + 1}, wantRead: false},
		{name: "at, then one byte written", received: []int{protocol.HighWater}, wrote: 1, wantRead: true},
		{name: "over, then back at", received: []int{protocol.HighWater, 10}, wrote: 10, wantRead: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := conn.New(echo(), conn.Options{})
			a := k.Open(t0)
			for _, n := range tt.received {
				a = checked(t, k.Received(make([]byte, n), t0), false)
			}
			if tt.wrote > 0 {
				a = checked(t, k.Wrote(tt.wrote, t0), false)
			}
			if a.WantRead != tt.wantRead {
				t.Fatalf("%d bytes buffered: %s; want WantRead %v", len(a.Out), show(a), tt.wantRead)
			}
			if !a.WantWrite {
				t.Fatalf("%d bytes buffered: %s; want WantWrite", len(a.Out), show(a))
			}
		})
	}
}

// bigReply answers a request with a header, then size bytes produced chunk
// bytes per More wake-up, recording how much was buffered at each.
func bigReply(size, chunk int, buffered *[]int) *fake {
	left := 0
	return &fake{
		data: func(_ []byte, out *bytes.Buffer) protocol.Step {
			out.WriteString("yes\n")
			left = size
			return protocol.Step{More: true}
		},
		wake: func(_ time.Time, out *bytes.Buffer) protocol.Step {
			*buffered = append(*buffered, out.Len())
			n := min(left, chunk)
			out.Write(bytes.Repeat([]byte{'x'}, n))
			left -= n
			return protocol.Step{More: left > 0}
		},
	}
}

func TestMoreOutputProducedLazilyBelowLowWater(t *testing.T) {
	tests := []struct {
		name        string
		size, chunk int
		write       int // what the socket takes per write
	}{
		{name: "small chunks, large writes", size: 1 << 20, chunk: 4 << 10, write: 256 << 10},
		{name: "chunks of LowWater, small writes", size: 1 << 20, chunk: protocol.LowWater, write: 1000},
		{name: "chunks over LowWater", size: 1 << 20, chunk: 100 << 10, write: 10 << 10},
		{name: "one chunk", size: 10, chunk: 100, write: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buffered []int
			f := bigReply(tt.size, tt.chunk, &buffered)
			k := conn.New(f, conn.Options{})
			k.Open(t0)
			a := checked(t, k.Received([]byte("get\n"), t0), false)
			if f.count("wake") != 1 {
				t.Fatalf("after the request: %d More wake-ups, want 1 (the header is below LowWater)", f.count("wake"))
			}
			var sent int
			for i := 0; len(a.Out) > 0 || a.WantWrite; i++ {
				if i > 1<<20 {
					t.Fatal("the reply never ends")
				}
				if len(a.Out) == 0 {
					a = checked(t, k.Writable(t0), false)
					continue
				}
				n := min(len(a.Out), tt.write)
				sent += n
				a = checked(t, k.Wrote(n, t0), false)
			}
			if want := len("yes\n") + tt.size; sent != want {
				t.Fatalf("sent %d bytes, want %d", sent, want)
			}
			for i, b := range buffered {
				if b >= protocol.LowWater {
					t.Fatalf("More wake-up %d made with %d bytes buffered, at or over LowWater", i, b)
				}
			}
			if want := (tt.size + tt.chunk - 1) / tt.chunk; len(buffered) != want {
				t.Fatalf("%d More wake-ups, want %d (one per chunk)", len(buffered), want)
			}
			if !a.WantRead {
				t.Fatalf("after the reply: %s; want WantRead", show(a))
			}
		})
	}
}

func TestMoreWakeUpsBoundedPerEvent(t *testing.T) {
	// A session that always has one more byte: a reactor must still get
	// back to its other connections.
	f := &fake{
		data: func([]byte, *bytes.Buffer) protocol.Step { return protocol.Step{More: true} },
		wake: func(_ time.Time, out *bytes.Buffer) protocol.Step {
			out.WriteByte('x')
			return protocol.Step{More: true}
		},
	}
	k := conn.New(f, conn.Options{})
	k.Open(t0)
	_, a := flush(t, k, k.Received([]byte("go"), t0), t0)
	if got := f.count("wake"); got != 64 {
		t.Fatalf("one event made %d More wake-ups, want 64", got)
	}
	if len(a.Out) != 0 || !a.WantWrite {
		t.Fatalf("budget spent: %s; want WantWrite and no Out", show(a))
	}
	_, a = flush(t, k, k.Writable(t0), t0)
	if got := f.count("wake"); got != 128 {
		t.Fatalf("after Writable: %d More wake-ups, want 128", got)
	}
}

// closer answers a request with "bye\n" and asks to close.
func closer() *fake {
	return &fake{data: func(_ []byte, out *bytes.Buffer) protocol.Step {
		out.WriteString("bye\n")
		return protocol.Step{Close: true}
	}}
}

func TestOrderlyCloseFlushesThenFINThenBoundedDrain(t *testing.T) {
	ms := time.Millisecond
	finAt := at(5 * ms)
	deadline := finAt.Add(conn.DrainTimeout)
	tests := []struct {
		name string
		// drain feeds the draining core events; it returns the action of
		// the last, which must be Close, and the one before, which must
		// not.
		drain     func(k *conn.Conn) (before, last conn.Action)
		wantError bool
	}{
		{
			name: "peer's EOF",
			drain: func(k *conn.Conn) (conn.Action, conn.Action) {
				return k.Received([]byte("late input"), at(6*ms)), k.EOF(at(7 * ms))
			},
		},
		{
			name: "DrainLimit bytes",
			drain: func(k *conn.Conn) (conn.Action, conn.Action) {
				return k.Received(make([]byte, conn.DrainLimit-1), at(6*ms)), k.Received([]byte{0}, at(7*ms))
			},
		},
		{
			name: "DrainTimeout",
			drain: func(k *conn.Conn) (conn.Action, conn.Action) {
				return k.Timer(deadline.Add(-time.Nanosecond)), k.Timer(deadline)
			},
		},
		{
			name: "a reset while draining",
			drain: func(k *conn.Conn) (conn.Action, conn.Action) {
				return k.Received([]byte("x"), at(6*ms)), k.Fail(syscall.ECONNRESET)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := closer()
			s := releasing{f}
			k := conn.New(s, conn.Options{})
			checked(t, k.Open(t0), false)
			a := checked(t, k.Received([]byte("quit\n"), at(ms)), false)
			if string(a.Out) != "bye\n" || a.WantRead || !a.WakeAt.IsZero() {
				t.Fatalf("after the session's Close: %s; want Out \"bye\\n\" and no reading", show(a))
			}
			a = checked(t, k.Wrote(2, at(2*ms)), false)
			if a.FIN || string(a.Out) != "e\n" {
				t.Fatalf("with 2 bytes unsent: %s; want Out \"e\\n\" and no FIN yet", show(a))
			}
			a = checked(t, k.Wrote(2, at(3*ms)), false)
			if !a.FIN {
				t.Fatalf("once flushed: %s; want FIN", show(a))
			}
			a = checked(t, k.FINSent(finAt), false)
			if !a.WantRead || a.WantWrite || !a.WakeAt.Equal(deadline) {
				t.Fatalf("after FIN: %s; want WantRead until FIN+DrainTimeout", show(a))
			}
			before, last := tt.drain(k)
			checked(t, before, false)
			checked(t, last, false)
			if before.Close || !before.WantRead {
				t.Fatalf("drain ended early: %s", show(before))
			}
			if !last.Close {
				t.Fatalf("drain did not end: %s; want Close", show(last))
			}
			if f.releases != 1 {
				t.Fatalf("%d releases, want 1", f.releases)
			}
			if got := f.count("data:"); got != 1 {
				t.Fatalf("session got %d Data calls, want 1: drained input is not its", got)
			}
			if err := k.Err(); err != nil {
				t.Fatalf("Err = %v after an orderly close, want nil", err)
			}
		})
	}
}

func TestFINWaitsForMoreOutput(t *testing.T) {
	var buffered []int
	f := bigReply(200<<10, 32<<10, &buffered)
	data := f.data
	f.data = func(in []byte, out *bytes.Buffer) protocol.Step {
		st := data(in, out)
		st.Close = true // the last reply: close once it is out
		return st
	}
	k := conn.New(f, conn.Options{})
	k.Open(t0)
	a := k.Received([]byte("get\n"), t0)
	sent := 0
	for len(a.Out) > 0 {
		sent += len(a.Out)
		a = checked(t, k.Wrote(len(a.Out), t0), false)
		if a.FIN && sent < 200<<10 {
			t.Fatalf("FIN after %d of %d bytes", sent, 200<<10)
		}
	}
	if !a.FIN {
		t.Fatalf("after the whole reply: %s; want FIN (the Close outlives the More wake-ups)", show(a))
	}
}

func TestFINWaitsForAMoreWakeUpThatProducedNothingYet(t *testing.T) {
	wakes := 0
	f := &fake{
		data: func([]byte, *bytes.Buffer) protocol.Step { return protocol.Step{Close: true, More: true} },
		wake: func(_ time.Time, out *bytes.Buffer) protocol.Step {
			if wakes++; wakes == 1 {
				return protocol.Step{More: true} // not ready yet
			}
			out.WriteString("tail")
			return protocol.Step{}
		},
	}
	k := conn.New(f, conn.Options{})
	k.Open(t0)
	a := checked(t, k.Received([]byte("q"), t0), false)
	if a.FIN || len(a.Out) > 0 || !a.WantWrite {
		t.Fatalf("More owed, nothing produced yet: %s; want WantWrite only", show(a))
	}
	if a = checked(t, k.Writable(t0), false); string(a.Out) != "tail" {
		t.Fatalf("Writable: %s; want Out \"tail\"", show(a))
	}
	if a = checked(t, k.Wrote(4, t0), false); !a.FIN {
		t.Fatalf("tail written: %s; want FIN", show(a))
	}
}

func TestPeerEOFThenCloseSkipsTheDrain(t *testing.T) {
	k := conn.New(echo(), conn.Options{})
	k.Open(t0)
	k.Received([]byte("last"), t0)
	a := checked(t, k.EOF(t0), false)
	if string(a.Out) != "last" || a.FIN || a.WantRead {
		t.Fatalf("EOF with output pending: %s; want Out \"last\", no reading, no FIN yet", show(a))
	}
	if a = checked(t, k.Wrote(4, t0), false); !a.FIN {
		t.Fatalf("flushed after EOF: %s; want FIN", show(a))
	}
	if a = checked(t, k.FINSent(t0), false); !a.Close {
		t.Fatalf("FIN after the peer's EOF: %s; want Close (nothing to drain)", show(a))
	}
}

func TestEOFWithPendingWakeWaitsForIt(t *testing.T) {
	ms := time.Millisecond
	p, err := protocol.Lookup("poetry")
	if err != nil {
		t.Fatal(err)
	}
	newSession, err := p.New(protocol.Options{Poem: []string{"one", "two", "three"}, LineDelay: 10 * ms})
	if err != nil {
		t.Fatal(err)
	}
	k := conn.New(newSession(), conn.Options{})
	got, a := flush(t, k, k.Open(t0), t0)
	if got != "one\n" || !a.WakeAt.Equal(at(10*ms)) {
		t.Fatalf("open: sent %q, %s; want \"one\\n\" and WakeAt t0+10ms", got, show(a))
	}
	a = checked(t, k.EOF(at(ms)), false)
	if a.FIN || a.Close || a.WantRead || !a.WakeAt.Equal(at(10*ms)) {
		t.Fatalf("EOF with a line due: %s; want only WakeAt t0+10ms", show(a))
	}
	if a = checked(t, k.Timer(at(9*ms)), false); len(a.Out) > 0 || !a.WakeAt.Equal(at(10*ms)) {
		t.Fatalf("early timer: %s; want nothing new", show(a))
	}
	var poem strings.Builder
	poem.WriteString(got)
	now := at(10 * ms)
	for i := 0; !a.FIN; i++ {
		if i == 10 {
			t.Fatalf("no FIN after the poem: %s", show(a))
		}
		a = checked(t, k.Timer(now), false)
		got, a = flush(t, k, a, now)
		poem.WriteString(got)
		now = a.WakeAt
	}
	if poem.String() != "one\ntwo\nthree\n" {
		t.Fatalf("poem %q, want every line", poem.String())
	}
	if a = checked(t, k.FINSent(now), false); !a.Close {
		t.Fatalf("FIN after the peer's EOF: %s; want Close", show(a))
	}
}

func TestStepsMerge(t *testing.T) {
	s := time.Second
	step := func(close, more bool, wake time.Duration) protocol.Step {
		st := protocol.Step{Close: close, More: more}
		if wake > 0 {
			st.WakeAt = at(wake)
		}
		return st
	}
	tests := []struct {
		name string
		open protocol.Step
		// events are "data", "eof" or "timer" (at wakeAt, from t0);
		// answers are the session's steps to Data, EOF or Wake, in order.
		events    []string
		answers   []protocol.Step
		wakeAt    time.Duration
		wantWake  time.Duration // 0: none
		wantRead  bool
		wantFIN   bool
		wantCalls []string
	}{
		{
			name: "data keeps a pending wake-up", open: step(false, false, s),
			events: []string{"data"}, answers: []protocol.Step{{}},
			wantWake: s, wantRead: true,
		},
		{
			name: "data moves the wake-up", open: step(false, false, s),
			events: []string{"data"}, answers: []protocol.Step{step(false, false, 2*s)},
			wantWake: 2 * s, wantRead: true,
		},
		{
			name: "the timer's own wake-up replaces it", open: step(false, false, s),
			events: []string{"timer"}, wakeAt: s, answers: []protocol.Step{{}},
			wantRead: true,
		},
		{
			name: "EOF keeps a pending wake-up", open: step(false, false, s),
			events: []string{"eof"}, answers: []protocol.Step{{}},
			wantWake: s,
		},
		{
			name:   "EOF without a wake-up closes",
			events: []string{"eof"}, answers: []protocol.Step{{}},
			wantFIN: true,
		},
		{
			name:   "Close sticks across More wake-ups",
			events: []string{"data"}, answers: []protocol.Step{step(true, true, 0), {}},
			wantFIN: true, wantCalls: []string{"open", "data:x", "wake"},
		},
		{
			name: "a More wake-up keeps a pending wake-up", open: step(false, true, s),
			answers:  []protocol.Step{{}},
			wantWake: s, wantRead: true, wantCalls: []string{"open", "wake"},
		},
		{
			name: "Close cancels the wake-up", open: step(false, false, s),
			events: []string{"data"}, answers: []protocol.Step{step(true, false, 0)},
			wantFIN: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := tt.answers
			answer := func() protocol.Step {
				if len(answers) == 0 {
					t.Fatal("more session calls than answers")
				}
				st := answers[0]
				answers = answers[1:]
				return st
			}
			f := &fake{
				open: func(*bytes.Buffer) protocol.Step { return tt.open },
				data: func([]byte, *bytes.Buffer) protocol.Step { return answer() },
				eof:  func(*bytes.Buffer) protocol.Step { return answer() },
				wake: func(time.Time, *bytes.Buffer) protocol.Step { return answer() },
			}
			k := conn.New(f, conn.Options{})
			a := checked(t, k.Open(t0), false)
			for _, ev := range tt.events {
				switch ev {
				case "data":
					a = k.Received([]byte("x"), t0)
				case "eof":
					a = k.EOF(t0)
				case "timer":
					a = k.Timer(at(tt.wakeAt))
				}
				checked(t, a, false)
			}
			var wantWake time.Time
			if tt.wantWake > 0 {
				wantWake = at(tt.wantWake)
			}
			if !a.WakeAt.Equal(wantWake) || a.WantRead != tt.wantRead || a.FIN != tt.wantFIN {
				var w string
				if tt.wantWake > 0 {
					w = " WakeAt:t0+" + tt.wantWake.String()
				}
				t.Fatalf("%s; want FIN %v WantRead %v%s", show(a), tt.wantFIN, tt.wantRead, w)
			}
			if tt.wantCalls != nil && strings.Join(f.calls, " ") != strings.Join(tt.wantCalls, " ") {
				t.Fatalf("session calls %q, want %q", f.calls, tt.wantCalls)
			}
			if len(answers) > 0 {
				t.Fatalf("%d answers left: the session was not called for them", len(answers))
			}
		})
	}
}

// TestMorePausesReading: a session with More output (a large reply being
// produced, or input it holds unanswered because its replies reached
// HighWater) gets no more input until it is done: what the peer sends
// meanwhile waits in the kernel, not in the connection's memory.
func TestMorePausesReading(t *testing.T) {
	left := 3
	f := &fake{
		data: func(_ []byte, out *bytes.Buffer) protocol.Step {
			out.WriteString("a")
			return protocol.Step{More: true}
		},
		wake: func(_ time.Time, out *bytes.Buffer) protocol.Step {
			out.WriteString("b")
			left--
			return protocol.Step{More: left > 0}
		},
	}
	k := conn.New(f, conn.Options{})
	checked(t, k.Open(t0), false)
	a := checked(t, k.Received([]byte("q"), t0), false)
	for a.WantWrite {
		if a.WantRead && left > 0 {
			t.Fatalf("session with More: %s; want reading paused", show(a))
		}
		if len(a.Out) > 0 {
			a = checked(t, k.Wrote(len(a.Out), t0), false)
		} else {
			a = checked(t, k.Writable(t0), false)
		}
	}
	if !a.WantRead || left != 0 {
		t.Fatalf("More done (%d left): %s; want reading on", left, show(a))
	}
}
