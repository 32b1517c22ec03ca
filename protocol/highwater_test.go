package protocol

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// maxReply bounds one reply of the framed protocols to the requests below.
const maxReply = 256

// pipelined holds, per protocol, one read (64 KiB) of the shortest requests
// it answers, the ones whose replies are many times their size.
var pipelined = map[string]string{
	"ack":   strings.Repeat("\n", 64<<10),                                     // 30-byte replies to 1-byte lines
	"hello": strings.Repeat("\n", 64<<10),                                     // "Hello, !\n"
	"http":  strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", (64<<10)/27), // 92 bytes to 27
	"file":  strings.Repeat("?\n", 32<<10),                                    // "no: unknown command\n"
	"echo":  strings.Repeat("e", 64<<10),                                      // its own size
}

// TestRepliesOwedStayUnderHighWater: a client that pipelines requests and
// reads nothing cannot make a session owe more than HighWater and one reply
// (one read, for echo): past it the session holds its input and asks for
// More, and answers the rest once the driver has written what it owes.
// Before, one read of 64 KiB of empty lines became 2 MiB of ack replies,
// and a thousand such clients took gigabytes.
func TestRepliesOwedStayUnderHighWater(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(pipelined)) {
		in := pipelined[name]
		for _, eof := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/eof=%v", name, eof), func(t *testing.T) {
				o := Options{}
				if name == "file" {
					root, _ := fileRoot(t)
					o.Root = root
				}
				bound := HighWater + maxReply
				if name == "echo" {
					bound = HighWater + len(in)
				}
				// What a driver that always writes at once gets.
				want, wantClose := answered(t, newSession(t, name, o), in, eof)

				s := newSession(t, name, o)
				var out, got bytes.Buffer
				s.Open(t0, &out)
				st := s.Data([]byte(in), t0, &out)
				if out.Len() > bound {
					t.Fatalf("one read of %d bytes made %d bytes of replies owed, over HighWater + one reply (%d)", len(in), out.Len(), bound)
				}
				if out.Len() < len(want) && !st.More && !st.Close {
					t.Fatalf("replies owed %d bytes of %d, the rest unanswered, and no More: %+v", out.Len(), len(want), st)
				}
				if eof && !st.Close {
					st = mergeStep(st, s.EOF(t0, &out))
				}
				for i := 0; st.More; i++ {
					if i > maxWakes {
						t.Fatal("More never ends")
					}
					// The driver writes what is owed, then wakes the session.
					got.Write(out.Bytes())
					out.Reset()
					st = mergeStep(st, s.Wake(t0, &out))
					if out.Len() > bound {
						t.Fatalf("a Wake made %d bytes of replies owed, over %d", out.Len(), bound)
					}
				}
				got.Write(out.Bytes())
				if got.String() != want || st.Close != wantClose {
					t.Fatalf("replies differ from those of a driver that writes at once: %d bytes close=%v, want %d bytes close=%v",
						got.Len(), st.Close, len(want), wantClose)
				}
			})
		}
	}
}

// answered feeds in to s 64 bytes at a time, writing everything it owes
// before each, then EOF if eof, and returns all it sent.
func answered(t *testing.T, s Session, in string, eof bool) (string, bool) {
	t.Helper()
	var out, all bytes.Buffer
	st := s.Open(t0, &out)
	for len(in) > 0 && !st.Close {
		n := min(64, len(in))
		all.Write(out.Bytes())
		out.Reset()
		st = mergeStep(st, s.Data([]byte(in[:n]), t0, &out))
		in = in[n:]
		if st.More {
			t.Fatalf("64 bytes of input were held (More) with %d bytes owed", out.Len())
		}
	}
	if eof && !st.Close {
		st = mergeStep(st, s.EOF(t0, &out))
	}
	all.Write(out.Bytes())
	return all.String(), st.Close
}
