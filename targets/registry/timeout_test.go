package registry_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// Short timeouts for the tests of them, and what a close may take past
// them on a loaded machine.
const (
	testRequestTimeout = 400 * time.Millisecond
	testIdleTimeout    = 800 * time.Millisecond
	closeSlack         = 5 * time.Second
)

// forEachStreamModel runs fn as a parallel subtest for every stream model
// over TCP, with a server of proto under cfg and the short timeouts.
func forEachStreamModel(t *testing.T, proto string, cfg targets.Config, fn func(t *testing.T, m targets.Model, cfg targets.Config, srv targets.Server)) {
	t.Helper()
	for _, m := range registry.Models() {
		if !m.Serves(targets.TCP) || m.Serves(targets.UDP) && !m.Serves(targets.Unix) {
			continue // the datagram servers have no connections
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			c.Network, c.Protocol = targets.TCP, proto
			c.Listen = []string{privateLoopback() + ":0"}
			c.RequestTimeout, c.IdleTimeout = testRequestTimeout, testIdleTimeout
			fn(t, m, c, start(t, m, c))
		})
	}
}

// greeted dials srv and reads the hello greeting.
func greeted(t *testing.T, srv targets.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, srv)
	r := bufio.NewReader(c)
	if line := readLine(t, r); line != "Welcome!\n" {
		t.Fatalf("greeting %q", line)
	}
	return c, r
}

// closedWithin waits for the server to close c (EOF or a reset, after
// whatever it still sends) and returns how long that took, failing past
// limit.
func closedWithin(t *testing.T, c net.Conn, r io.Reader, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	c.SetReadDeadline(begin.Add(limit))
	_, err := io.Copy(io.Discard, r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open %v", limit)
	}
	return time.Since(begin)
}

// TestStalledClientsAreDropped: every model keeps a request timeout and an
// idle timeout, so that a client that connects and sends nothing, or sends
// half a request and stalls, loses its connection, and cannot hold a pool's
// worker, the iterative model's one slot or a thread for ever. Before, five
// stalled clients stopped a pool of five.
func TestStalledClientsAreDropped(t *testing.T) {
	cfg := targets.Config{Workers: 2, MaxConns: 2}
	t.Run("silent", func(t *testing.T) {
		forEachStreamModel(t, "hello", cfg, func(t *testing.T, _ targets.Model, _ targets.Config, srv targets.Server) {
			c, r := greeted(t, srv)
			if d := closedWithin(t, c, r, testIdleTimeout+closeSlack); d < testIdleTimeout/2 {
				t.Fatalf("a silent client was dropped after %v, before the idle timeout %v", d, testIdleTimeout)
			}
		})
	})
	t.Run("half a request", func(t *testing.T) {
		forEachStreamModel(t, "hello", cfg, func(t *testing.T, _ targets.Model, _ targets.Config, srv targets.Server) {
			c, r := greeted(t, srv)
			io.WriteString(c, "Bo")
			if d := closedWithin(t, c, r, testRequestTimeout+closeSlack); d >= testIdleTimeout+closeSlack/2 {
				t.Fatalf("half a request held the connection %v: the request timeout is %v", d, testRequestTimeout)
			}
		})
	})
	t.Run("a request dribbled slower than the request timeout", func(t *testing.T) {
		forEachStreamModel(t, "hello", cfg, func(t *testing.T, _ targets.Model, _ targets.Config, srv targets.Server) {
			c, r := greeted(t, srv)
			// A byte every quarter of the request timeout: the idle
			// timer never runs out, the request's does.
			done := make(chan struct{})
			defer close(done)
			go func() {
				tick := time.NewTicker(testRequestTimeout / 4)
				defer tick.Stop()
				for range 100 {
					select {
					case <-done:
						return
					case <-tick.C:
					}
					if _, err := io.WriteString(c, "x"); err != nil {
						return
					}
				}
			}()
			closedWithin(t, c, r, testRequestTimeout+closeSlack)
		})
	})
	t.Run("slow but whole requests are served", func(t *testing.T) {
		forEachStreamModel(t, "hello", cfg, func(t *testing.T, _ targets.Model, _ targets.Config, srv targets.Server) {
			c, r := greeted(t, srv)
			// Each request whole within the request timeout, a pause
			// shorter than the idle timeout between them: all answered.
			for i := range 3 {
				io.WriteString(c, "B")
				time.Sleep(testRequestTimeout / 4)
				io.WriteString(c, "o\n")
				if line := readLine(t, r); line != "Hello, Bo!\n" {
					t.Fatalf("request %d: reply %q", i, line)
				}
				time.Sleep(testIdleTimeout / 2)
			}
		})
	})
	t.Run("a reply not read", func(t *testing.T) {
		forEachStreamModel(t, "echo", cfg, func(t *testing.T, _ targets.Model, _ targets.Config, srv targets.Server) {
			c := dial(t, srv)
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			// Write until the server stops reading and the buffers are
			// full; the server then drops the connection, and the write
			// fails rather than time out.
			c.SetWriteDeadline(time.Now().Add(testIdleTimeout + closeSlack))
			chunk := []byte(strings.Repeat("x", 64<<10))
			for {
				if _, err := c.Write(chunk); err != nil {
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("a client that reads nothing kept its connection %v", testIdleTimeout+closeSlack)
					}
					return
				}
			}
		})
	})
	t.Run("stalled clients free the model's capacity", func(t *testing.T) {
		forEachStreamModel(t, "hello", cfg, func(t *testing.T, m targets.Model, cfg targets.Config, srv targets.Server) {
			capacity := m.Capacity(cfg)
			if capacity == 0 {
				t.Skipf("%s declares no capacity", m.Name)
			}
			for range capacity {
				greeted(t, srv) // and then silent
			}
			c := dial(t, srv)
			c.SetDeadline(time.Now().Add(testIdleTimeout + closeSlack))
			r := bufio.NewReader(c)
			io.WriteString(c, "Al\n")
			for _, want := range []string{"Welcome!\n", "Hello, Al!\n"} {
				if line, err := r.ReadString('\n'); line != want {
					t.Fatalf("client %d of capacity %d: %q, %v; want %q once a stalled client is dropped", capacity+1, capacity, line, err, want)
				}
			}
		})
	})
}
