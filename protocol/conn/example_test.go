package conn_test

import (
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
)

// A hello connection from greeting to close, with the driver's side of
// each step in a comment: here the "socket" takes 3 bytes of one write.
func Example() {
	p, _ := protocol.Lookup("hello")
	newSession, _ := p.New(protocol.Options{})
	k := conn.New(newSession(), conn.Options{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	a := k.Open(now)
	fmt.Printf("write %q\n", a.Out)
	a = k.Wrote(len(a.Out), now) // write(2) took it all
	fmt.Println("read:", a.WantRead)

	a = k.Received([]byte("Ada\nexit\n"), now) // read(2) returned this
	fmt.Printf("write %q\n", a.Out)
	a = k.Wrote(3, now) // a partial write
	fmt.Printf("write %q\n", a.Out)
	a = k.Wrote(len(a.Out), now)
	fmt.Println("FIN:", a.FIN)

	a = k.FINSent(now) // shutdown(SHUT_WR) succeeded
	fmt.Println("drain: read:", a.WantRead, "for", a.WakeAt.Sub(now))
	a = k.EOF(now) // read(2) returned 0
	fmt.Println("close:", a.Close, "error:", k.Err())
	// Output:
	// write "Welcome!\n"
	// read: true
	// write "Hello, Ada!\n"
	// write "lo, Ada!\n"
	// FIN: true
	// drain: read: true for 1s
	// close: true error: <nil>
}
