package reactor_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/targets"
)

// TestManyConnections: 2 000 connections open at once are all served by
// every model but select, which refuses those whose descriptor is ≥ 1024
// (closing them at once and counting them) and serves the rest.
func TestManyConnections(t *testing.T) {
	const n = 2000
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Both ends live in this process, plus the other tests' descriptors.
	if need := uint64(2*n + 512); lim.Max < need {
		t.Skipf("the hard file limit is %d, this test needs %d descriptors", lim.Max, need)
	} else if lim.Cur < need {
		old := lim
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("raise the file limit: %v", err)
		}
		t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
	}
	for _, m := range models { // one model at a time: descriptors are shared
		t.Run(m.Name, func(t *testing.T) {
			srv := start(t, m, targets.Config{})
			a := srv.Addrs()[0]
			conns := make([]net.Conn, n)
			for i := range conns {
				c, err := net.DialTimeout(a.Network(), a.String(), deadline)
				if err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				conns[i] = c
				defer c.Close()
			}
			var served, refused int
			var mu sync.Mutex
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.SetDeadline(time.Now().Add(2 * deadline))
					msg := fmt.Sprintf("%05d", i)
					b := make([]byte, len(msg))
					_, err := c.Write([]byte(msg))
					if err == nil {
						_, err = io.ReadFull(c, b)
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil && string(b) == msg:
						served++
					case m.Name == "select" && (errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)):
						refused++ // closed at once: the descriptor was ≥ 1024
					default:
						errs <- fmt.Errorf("connection %d: %q, %v", i, b, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if m.Name != "select" {
				if served != n {
					t.Fatalf("%d of %d served", served, n)
				}
				return
			}
			got := srv.(interface{ Refused() uint64 }).Refused()
			if served == 0 || refused == 0 || uint64(refused) != got {
				t.Fatalf("select: %d served, %d refused by the clients' count, %d by the server's: want some served and every refusal counted", served, refused, got)
			}
			for _, c := range conns {
				c.Close()
			}
			// Still serving once descriptors are low again.
			ping(t, dial(t, srv), "after the crowd")
		})
	}
}
