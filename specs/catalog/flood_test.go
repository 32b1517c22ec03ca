package catalog

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
)

// floodServer is a server that sends prefix, then unit over and over until
// the client goes, to every client, and reads and drops whatever it is
// sent: the server that streams without end.
func floodServer(t *testing.T, prefix, unit string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte(unit), max(1, (64<<10)/len(unit)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := c.Write([]byte(prefix)); err != nil {
					return
				}
				for {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// peakHeap samples the heap in use until stop is called, and returns the
// largest sample.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestFloodingServerBounded runs the catalogue against a server of each
// protocol that streams without end (issue 10): every read is bounded, so
// the behaviours that read to a close, a body or a collected download fail
// with "the server sent more than N bytes", the run ends within its
// timeouts, and the heap stays far below the hundreds of megabytes a second
// that such a server sends.
func TestFloodingServerBounded(t *testing.T) {
	const (
		timeout     = 300 * time.Millisecond
		slowTimeout = 3 * time.Second
		maxHeap     = 128 << 20
		maxWhole    = 90 * time.Second
	)
	tooMuch := "the server sent more than"
	cases := []struct {
		name, protocol, prefix, unit string
		// flooded are the behaviours that must fail on the bound.
		flooded []string
		// slow: parsing a megabyte of HTTP (header lines, chunks; under
		// -race on a loaded machine) can take longer than the short
		// timeout; the bound, not the deadline, must end the read.
		slow bool
	}{
		{"echo stream", "echo", "", "y", nil, false},
		{"hello stream", "hello", "Welcome!\n", "y", []string{"oversized-line"}, false},
		{"ack lines", "ack", "", protocol.AckReply + "\n", []string{"close-on-eof", "oversized-line"}, false},
		{"banner without end", "banner", "", "欢迎", []string{"greeting"}, false},
		{"poem without end", "poetry", "", "1111\n", []string{"stream-concurrent"}, false},
		{"file of a terabyte", "file", "yes:1000000000000\n", "y", []string{"file-get"}, false},
		{"http body by length", "http", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n", "y", []string{"http-get"}, true},
		{"http chunks", "http", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "10\r\nyyyyyyyyyyyyyyyy\r\n", []string{"http-get"}, true},
		{"http headers without end", "http", "HTTP/1.1 200 OK\r\n", "X-Flood: y\r\n", []string{"http-get", "http-malformed"}, true},
		{"http line without end", "http", "HTTP/1.1 200 OK\r\nX-Flood: ", "y", []string{"http-get", "http-malformed"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tm := timeout
			if tc.slow {
				tm = slowTimeout
			}
			tg := &Target{Name: tc.name, Network: "tcp", Addr: floodServer(t, tc.prefix, tc.unit), Protocol: tc.protocol,
				Timeout: tm, Options: protocol.Options{Framing: protocol.Line}, External: true}
			if tc.protocol == "file" {
				tg.Root = t.TempDir() // the fixtures go on disk: the server takes no put
			}
			defer tg.Close()
			runtime.GC()
			stop := peakHeap()
			start := time.Now()
			results := Check(tg, nil, nil)
			took := time.Since(start)
			peak := stop()
			t.Logf("%s: %v, peak heap %d MiB", tc.name, took.Round(time.Millisecond), peak>>20)
			if took > maxWhole {
				t.Errorf("the catalogue took %v against a flooding server, want under %v", took, maxWhole)
			}
			if peak > maxHeap {
				t.Errorf("peak heap %d MiB against a flooding server, want under %d MiB", peak>>20, maxHeap>>20)
			}
			var msgs []string
			for _, r := range results {
				if r.State == Failed {
					msgs = append(msgs, r.Behaviour.ID+": "+r.Message)
				}
				if slices.Contains(tc.flooded, r.Behaviour.ID) && (r.State != Failed || !strings.Contains(r.Message, tooMuch)) {
					t.Errorf("%s: %s %q, want a failure saying %q", r.Behaviour.ID, r.State, r.Message, tooMuch)
				}
			}
			if t.Failed() {
				t.Logf("failures:\n%s", strings.Join(msgs, "\n\n"))
			}
		})
	}
}
