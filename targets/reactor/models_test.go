package reactor_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/dispatcher"
	"github.com/socklab/socklab/targets/reactor"
	"github.com/socklab/socklab/targets/reactorpool"
	"github.com/socklab/socklab/targets/reuseport"
)

// models is every event-driven model; each test runs over all of them.
var models = []targets.Model{
	reactor.SelectModel,
	reactor.PollModel,
	reactor.EpollModel,
	dispatcher.Model,
	reactorpool.Model,
	reuseport.Model,
}

// deadline is generous: the CI machine is shared and tests run with -race.
const deadline = 10 * time.Second

func start(t *testing.T, m targets.Model, cfg targets.Config) targets.Server {
	t.Helper()
	if cfg.Protocol == "" {
		cfg.Protocol = "echo"
	}
	srv, err := m.Start(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", m.Name, err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dial(t *testing.T, srv targets.Server) net.Conn {
	t.Helper()
	a := srv.Addrs()[0]
	c, err := net.DialTimeout(a.Network(), a.String(), deadline)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(deadline))
	return c
}

// ping checks that c echoes a short message.
func ping(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

func TestEchoHalfClose(t *testing.T) {
	for _, m := range models {
		for _, network := range m.Networks {
			if protocol.IsDatagram(network) {
				continue
			}
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				srv := start(t, m, targets.Config{Network: network})
				c := dial(t, srv)
				payload := make([]byte, 1<<20)
				rand.Read(payload)
				go func() {
					c.Write(payload)
					c.(interface{ CloseWrite() error }).CloseWrite()
				}()
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("read after half-close: %v (want the replies, then EOF)", err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatalf("echo returned %d bytes, want the %d sent", len(got), len(payload))
				}
			})
		}
	}
}

// TestSlowReader: an 8 MiB reply to a client with a small receive buffer
// that reads slowly arrives whole, and meanwhile another client is answered.
func TestSlowReader(t *testing.T) {
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, m, targets.Config{})
			a := srv.Addrs()[0]
			d := net.Dialer{Timeout: deadline, Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
			}}
			slow, err := d.Dial(a.Network(), a.String())
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			slow.SetDeadline(time.Now().Add(4 * deadline))
			payload := make([]byte, 8<<20)
			rand.Read(payload)
			want := sha256.Sum256(payload)
			go func() {
				slow.Write(payload)
				slow.(*net.TCPConn).CloseWrite()
			}()
			other := dial(t, srv)
			h := sha256.New()
			buf := make([]byte, 16<<10)
			var total int
			pinged := false
			for {
				n, err := slow.Read(buf)
				h.Write(buf[:n])
				total += n
				if !pinged && total >= 1<<20 {
					// The slow reader's reply is in flight: the reactor
					// must still answer others promptly.
					ping(t, other, "are you there?")
					pinged = true
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("slow read after %d bytes: %v", total, err)
				}
				if total%(512<<10) < n {
					time.Sleep(5 * time.Millisecond) // a slow reader
				}
			}
			if total != len(payload) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("slow reader got %d bytes (sha256 match %v), want all %d", total, bytes.Equal(h.Sum(nil), want[:]), len(payload))
			}
			if !pinged {
				t.Fatal("the other client was never pinged")
			}
		})
	}
}
