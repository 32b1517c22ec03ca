package conn_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// untilWait performs actions as a driver whose socket always has room
// would: it writes each Out and sends each FIN, and returns the first
// action that is neither.
func untilWait(t *testing.T, k *conn.Conn, a conn.Action, now time.Time) conn.Action {
	t.Helper()
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("no end of actions")
		}
		switch {
		case len(a.Out) > 0:
			a = checked(t, k.Wrote(len(a.Out), now), false)
		case a.FIN:
			a = checked(t, k.FINSent(now), false)
		default:
			return a
		}
	}
}

func TestReleaseExactlyOnce(t *testing.T) {
	reset := syscall.ECONNRESET
	tests := []struct {
		name string
		// end drives a connection to its end and returns the action that
		// ended it.
		session func() *fake
		end     func(t *testing.T, k *conn.Conn) conn.Action
		wantErr error
	}{
		{
			name: "orderly, the peer first", session: echo,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				k.Received([]byte("a"), t0)
				return untilWait(t, k, k.EOF(t0), t0)
			},
		},
		{
			name: "orderly, the session first", session: closer,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				untilWait(t, k, k.Received([]byte("q"), t0), t0)
				return k.EOF(t0)
			},
		},
		{
			name: "drain timeout", session: closer,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				a := untilWait(t, k, k.Received([]byte("q"), t0), t0)
				return k.Timer(a.WakeAt)
			},
		},
		{
			name: "drain limit", session: closer,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				untilWait(t, k, k.Received([]byte("q"), t0), t0)
				return k.Received(make([]byte, conn.DrainLimit), t0)
			},
		},
		{
			name: "reset while open", session: echo, wantErr: reset,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				k.Received([]byte("abc"), t0)
				return k.Fail(reset)
			},
		},
		{
			name: "reset while draining", session: closer,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				untilWait(t, k, k.Received([]byte("q"), t0), t0)
				return k.Fail(reset)
			},
		},
		{
			name: "the FIN fails", session: closer, wantErr: syscall.ENOTCONN,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				a := k.Received([]byte("q"), t0)
				if a = k.Wrote(len(a.Out), t0); !a.FIN {
					t.Fatalf("%s; want FIN", show(a))
				}
				return k.Fail(syscall.ENOTCONN)
			},
		},
		{
			name: "server shutdown while open", session: echo,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				k.Received([]byte("abc"), t0)
				return k.Abort()
			},
		},
		{
			name: "server shutdown while draining", session: closer,
			end: func(t *testing.T, k *conn.Conn) conn.Action {
				untilWait(t, k, k.Received([]byte("q"), t0), t0)
				return k.Abort()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.session()
			k := conn.New(releasing{f}, conn.Options{})
			k.Open(t0)
			a := tt.end(t, k)
			if !a.Close {
				t.Fatalf("ending action %s; want Close", show(a))
			}
			if f.releases != 1 {
				t.Fatalf("%d releases at Close, want 1", f.releases)
			}
			if !errors.Is(k.Err(), tt.wantErr) || (tt.wantErr == nil) != (k.Err() == nil) {
				t.Fatalf("Err = %v, want %v", k.Err(), tt.wantErr)
			}
			// Whatever the driver reports afterwards, nothing happens: no
			// second Close (a second close(2) could hit a reused
			// descriptor), no second release, no session call.
			later := []conn.Action{
				k.Received([]byte("more"), t0), k.EOF(t0), k.Writable(t0), k.Wrote(0, t0),
				k.FINSent(t0), k.Timer(t0.Add(time.Hour)), k.Done(), k.Fail(reset), k.Abort(),
			}
			for i, a := range later {
				if a.Call != nil || a.Out != nil || a.FIN || a.Close || a.WantRead || a.WantWrite || !a.WakeAt.IsZero() {
					t.Fatalf("event %d after Close: %s; want the zero Action", i, show(a))
				}
			}
			if f.releases != 1 || len(f.late) > 0 {
				t.Fatalf("after more events: %d releases, calls after release %q; want 1 and none", f.releases, f.late)
			}
		})
	}
}

func TestSessionWithoutReleaseEnds(t *testing.T) {
	f := echo()
	k := conn.New(f, conn.Options{}) // no Release method: nothing to call
	k.Open(t0)
	if a := k.Abort(); !a.Close {
		t.Fatalf("Abort: %s; want Close", show(a))
	}
}

func TestSpuriousEventsAreHarmless(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		session func() *fake
		setup   func(k *conn.Conn) conn.Action
		event   func(k *conn.Conn) conn.Action
	}{
		{
			name: "timer before WakeAt",
			session: func() *fake {
				return &fake{open: func(*bytes.Buffer) protocol.Step { return protocol.Step{WakeAt: at(s)} }}
			},
			setup: func(k *conn.Conn) conn.Action { return k.Open(t0) },
			event: func(k *conn.Conn) conn.Action { return k.Timer(at(s - time.Nanosecond)) },
		},
		{
			name:    "timer with no wake-up",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { return k.Open(t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Timer(at(s)) },
		},
		{
			name: "timer once Close is asked",
			session: func() *fake {
				f := closer()
				f.open = func(*bytes.Buffer) protocol.Step { return protocol.Step{WakeAt: at(s)} }
				return f
			},
			setup: func(k *conn.Conn) conn.Action { k.Open(t0); return k.Received([]byte("q"), t0) },
			event: func(k *conn.Conn) conn.Action { return k.Timer(at(s)) },
		},
		{
			name:    "writable with nothing to write",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { return k.Open(t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Writable(t0) },
		},
		{
			name:    "writable while output waits",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { k.Open(t0); return k.Received([]byte("abc"), t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Writable(t0) },
		},
		{
			name:    "a write of nothing",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { k.Open(t0); return k.Received([]byte("abc"), t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Wrote(0, t0) },
		},
		{
			name:    "Done with no call in flight",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { return k.Open(t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Done() },
		},
		{
			name:    "FINSent with no FIN asked",
			session: echo,
			setup:   func(k *conn.Conn) conn.Action { return k.Open(t0) },
			event:   func(k *conn.Conn) conn.Action { return k.FINSent(t0) },
		},
		{
			name:    "input after the session's Close",
			session: closer,
			setup:   func(k *conn.Conn) conn.Action { k.Open(t0); return k.Received([]byte("q"), t0) },
			event:   func(k *conn.Conn) conn.Action { return k.Received([]byte("more"), t0) },
		},
		{
			name: "a second EOF",
			session: func() *fake {
				return &fake{open: func(*bytes.Buffer) protocol.Step { return protocol.Step{WakeAt: at(s)} }}
			},
			setup: func(k *conn.Conn) conn.Action { k.Open(t0); return k.EOF(t0) },
			event: func(k *conn.Conn) conn.Action { return k.EOF(t0) },
		},
		{
			name:    "drain timer before the deadline",
			session: closer,
			setup: func(k *conn.Conn) conn.Action {
				k.Open(t0)
				a := k.Received([]byte("q"), t0)
				k.Wrote(len(a.Out), t0)
				return k.FINSent(t0)
			},
			event: func(k *conn.Conn) conn.Action { return k.Timer(t0.Add(conn.DrainTimeout - time.Nanosecond)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.session()
			k := conn.New(f, conn.Options{})
			before := checked(t, tt.setup(k), false)
			out := string(before.Out) // Out aliases the core's buffer
			calls := len(f.calls)
			after := checked(t, tt.event(k), false)
			if string(after.Out) != out || after.FIN != before.FIN || after.Close != before.Close ||
				after.WantRead != before.WantRead || after.WantWrite != before.WantWrite || !after.WakeAt.Equal(before.WakeAt) {
				t.Fatalf("spurious event changed the action: %s, was %s", show(after), show(before))
			}
			if len(f.calls) != calls {
				t.Fatalf("spurious event made session calls %q", f.calls[calls:])
			}
		})
	}
}
