package wire

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestAwaitUnread: it returns once the server's bytes are queued, leaves
// them to be read, gives up after its wait on a silent server, and a close
// after it resets the server's side.
func TestAwaitUnread(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/s"
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				sc, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- sc
			}()
			c, err := Dial(network, l.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sc, ok := <-accepted
			if !ok {
				t.Fatal("no connection accepted")
			}
			defer sc.Close()

			start := time.Now()
			if c.AwaitUnread(100 * time.Millisecond) {
				t.Fatal("AwaitUnread reported bytes from a silent server")
			}
			if waited := time.Since(start); waited < 100*time.Millisecond {
				t.Fatalf("AwaitUnread gave up after %v, before its wait of 100ms", waited)
			}

			if _, err := sc.Write([]byte("reply")); err != nil {
				t.Fatal(err)
			}
			if !c.AwaitUnread(5 * time.Second) {
				t.Fatal("AwaitUnread missed the server's reply")
			}
			if !c.AwaitUnread(5 * time.Second) {
				t.Fatal("AwaitUnread took the reply it peeked at")
			}

			// Closing with the reply unread resets the server's side: its
			// read sees ECONNRESET, where a FIN would be EOF.
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := sc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the server's read after its client closed with unread input: %v, want ECONNRESET", err)
			}
		})
	}
}
