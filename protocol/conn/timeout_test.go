package conn_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// timeouts are the options of the timeout tests: 10 s for a request, 60 s
// of idleness.
var timeouts = conn.Options{RequestTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}

// lines is a session of newline-ended requests, each answered "ok\n", that
// says Partial while a request's end has not arrived.
func lines() *fake {
	var pending int
	step := func() protocol.Step { return protocol.Step{Partial: pending > 0} }
	return &fake{
		data: func(in []byte, out *bytes.Buffer) protocol.Step {
			for _, b := range in {
				pending++
				if b == '\n' {
					out.WriteString("ok\n")
					pending = 0
				}
			}
			return step()
		},
		eof: func(*bytes.Buffer) protocol.Step { return protocol.Step{Close: true} },
	}
}

// timeoutOf drives events on a fresh core of session f and returns the last
// action and the error the connection ended with, if it ended. Each event
// is a function of the core.
func timeoutOf(t *testing.T, f *fake, o conn.Options, events ...func(*conn.Conn) conn.Action) (conn.Action, error) {
	t.Helper()
	k := conn.New(f, o)
	a := checked(t, k.Open(t0), false)
	for _, ev := range events {
		if a = checked(t, ev(k), false); a.Close {
			return a, k.Err()
		}
	}
	return a, nil
}

func recv(s string, d time.Duration) func(*conn.Conn) conn.Action {
	return func(k *conn.Conn) conn.Action { return k.Received([]byte(s), at(d)) }
}

func wrote(n int, d time.Duration) func(*conn.Conn) conn.Action {
	return func(k *conn.Conn) conn.Action { return k.Wrote(n, at(d)) }
}

func timer(d time.Duration) func(*conn.Conn) conn.Action {
	return func(k *conn.Conn) conn.Action { return k.Timer(at(d)) }
}

// TestTimeouts: a request that does not arrive whole within RequestTimeout
// of its first byte, and a connection on which no byte moves for
// IdleTimeout while the session awaits its peer or the peer does not read,
// end with their error; activity, a request finished in time and a session
// at work do not.
func TestTimeouts(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name    string
		session func() *fake
		events  []func(*conn.Conn) conn.Action
		want    error // nil: still open after the events
	}{
		{name: "silent client", session: lines, events: []func(*conn.Conn) conn.Action{timer(60 * s)}, want: conn.ErrIdleTimeout},
		{name: "silent client, early timer", session: lines, events: []func(*conn.Conn) conn.Action{timer(59 * s)}},
		{name: "activity pushes idleness back", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a\n", 30*s), wrote(3, 30*s), timer(60 * s)}},
		{name: "idle after the activity", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a\n", 30*s), wrote(3, 30*s), timer(60 * s), timer(90 * s)}, want: conn.ErrIdleTimeout},
		{name: "request not whole in time", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("ab", 1*s), timer(11 * s)}, want: conn.ErrRequestTimeout},
		{name: "request dribbled, not whole in time", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a", 1*s), recv("b", 5*s), recv("c", 10*s), timer(11 * s)}, want: conn.ErrRequestTimeout},
		{name: "request whole in time", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("ab", 1*s), recv("\n", 9*s), wrote(3, 9*s), timer(11 * s)}},
		{name: "next request's clock starts at its first byte", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("ab", 1*s), recv("\ncd", 9*s), wrote(3, 9*s), timer(11 * s), timer(18 * s)}},
		{name: "next request not whole in time", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("ab", 1*s), recv("\ncd", 9*s), wrote(3, 9*s), timer(11 * s), timer(19 * s)}, want: conn.ErrRequestTimeout},
		{name: "reply not read", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a\n", 1*s), timer(61 * s)}, want: conn.ErrIdleTimeout},
		{name: "reply read slowly", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a\n", 1*s), wrote(1, 50*s), timer(60 * s), wrote(1, 100*s), timer(110 * s), timer(159 * s)}},
		{name: "reply read slowly, then not", session: lines, events: []func(*conn.Conn) conn.Action{
			recv("a\n", 1*s), wrote(1, 50*s), timer(60 * s), wrote(1, 100*s), timer(110 * s), timer(160 * s)}, want: conn.ErrIdleTimeout},
		{name: "session at work", session: func() *fake {
			return &fake{open: func(*bytes.Buffer) protocol.Step { return protocol.Step{WakeAt: at(time.Hour)} }}
		}, events: []func(*conn.Conn) conn.Action{timer(60 * s), timer(120 * s)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := timeoutOf(t, tt.session(), timeouts, tt.events...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != !a.Close {
				t.Fatalf("ended with %v (%s), want %v", err, show(a), tt.want)
			}
		})
	}
}

// TestTimeoutsOffByDefault: the zero Options arm no timer of their own.
func TestTimeoutsOffByDefault(t *testing.T) {
	k := conn.New(lines(), conn.Options{})
	if a := k.Open(t0); !a.WakeAt.IsZero() {
		t.Fatalf("Open: %s; want no wake-up", show(a))
	}
	if a := k.Received([]byte("ab"), t0); !a.WakeAt.IsZero() {
		t.Fatalf("a request under way: %s; want no wake-up", show(a))
	}
}

// TestIdleTimerNotRearmedPerEvent: a busy connection does not move its
// wake-up at every event (a reactor would re-arm a timer per read); the
// timer is pushed back only when it fires.
func TestIdleTimerNotRearmedPerEvent(t *testing.T) {
	k := conn.New(echo(), timeouts)
	first := k.Open(t0).WakeAt
	for i := 1; i < 100; i++ {
		d := time.Duration(i) * 100 * time.Millisecond
		a := k.Received([]byte("x"), at(d))
		if a = k.Wrote(len(a.Out), at(d)); !a.WakeAt.Equal(first) {
			t.Fatalf("event %d: wake-up %s, want it left at %s", i, a.WakeAt.Sub(t0), first.Sub(t0))
		}
	}
}

// TestDeferredTimeouts: a Deferred core keeps the same timers, the request's
// clock starting when its input arrived, not when its call ran.
func TestDeferredTimeouts(t *testing.T) {
	k := conn.New(lines(), conn.Options{RequestTimeout: 10 * time.Second, IdleTimeout: time.Minute, Deferred: true})
	a := k.Open(t0)
	inFlight(t, a.Call)()
	checked(t, k.Done(), false)
	a = k.Received([]byte("ab"), at(time.Second))
	inFlight(t, a.Call)()
	a = checked(t, k.Done(), false)
	if !a.WakeAt.Equal(at(11 * time.Second)) {
		t.Fatalf("a request under way since t0+1s: %s; want a wake-up at t0+11s", show(a))
	}
	if a = k.Timer(at(11 * time.Second)); !a.Close || !errors.Is(k.Err(), conn.ErrRequestTimeout) {
		t.Fatalf("at t0+11s: %s, err %v; want Close with ErrRequestTimeout", show(a), k.Err())
	}
}

// TestDeferredReplyNotReadTimesOut: a Deferred core whose peer reads
// nothing, with input queued behind the output owed, still ends on its
// idle timeout: the input waits for the output, the output for the peer.
func TestDeferredReplyNotReadTimesOut(t *testing.T) {
	k := conn.New(echo(), conn.Options{IdleTimeout: time.Minute, Deferred: true})
	a := k.Open(t0)
	inFlight(t, a.Call)()
	checked(t, k.Done(), false)
	a = k.Received(make([]byte, protocol.LowWater), at(time.Second))
	inFlight(t, a.Call)()
	checked(t, k.Done(), false)
	if a = checked(t, k.Received([]byte("queued"), at(2*time.Second)), false); a.Call != nil {
		t.Fatalf("input behind LowWater bytes owed: %s; want it queued", show(a))
	}
	a = k.Timer(at(time.Minute))
	a = k.Timer(a.WakeAt)
	if !a.Close || !errors.Is(k.Err(), conn.ErrIdleTimeout) {
		t.Fatalf("a minute after the last byte moved: %s, err %v; want Close with ErrIdleTimeout", show(a), k.Err())
	}
}
