package loadgen

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

// TestLargeEchoDoesNotDeadlock: an echo payload larger than both sides'
// socket buffers comes back whole on either engine. Written whole before
// the reply is read, its echo fills the buffers and the server stops
// reading, while the writer waits for it to read: the goroutine engine
// stalled there until the request timed out (issue 10).
func TestLargeEchoDoesNotDeadlock(t *testing.T) {
	for _, network := range []string{targets.TCP, targets.Unix} {
		srv, err := goroutine.Start(targets.Config{Network: network, Protocol: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		for _, engine := range engines {
			for _, tc := range []struct {
				size, pipeline int
			}{{MaxSize, 1}, {1 << 20, 4}} {
				t.Run(fmt.Sprintf("%s %s %d bytes x %d", network, engine, tc.size, tc.pipeline), func(t *testing.T) {
					const n = 4
					cfg := Config{Network: network, Addr: srv.Addrs()[0].String(), Protocol: "echo", Engine: engine,
						Client: protocol.ClientOptions{Size: tc.size}, Pipeline: tc.pipeline, Requests: n, Timeout: 10 * time.Second}
					start := time.Now()
					res := run(t, cfg)
					if res.Requests != n || res.TotalErrors() != 0 || res.Unfinished != 0 {
						t.Fatalf("requests %d, errors %v (%v), unfinished %d after %v; want %d and none",
							res.Requests, res.Errors, res.FirstErrors, res.Unfinished, time.Since(start), n)
					}
					if want := int64(n * tc.size); res.BytesReceived != want || res.BytesSent != want {
						t.Errorf("sent %d, received %d bytes, want %d each way", res.BytesSent, res.BytesReceived, want)
					}
				})
			}
		}
	}
}

// TestPayloadBounds: a size past MaxSize, or more payload bytes in flight
// than MaxPayloadBytes, is a configuration error, refused before a
// connection is made; so are a rate that is not a number or infinite.
func TestPayloadBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"largest size", Config{Client: protocol.ClientOptions{Size: MaxSize}}, true},
		{"past the largest size", Config{Client: protocol.ClientOptions{Size: MaxSize + 1}}, false},
		{"100 MB", Config{Client: protocol.ClientOptions{Size: 100_000_000}}, false},
		{"256 MiB in flight", Config{Client: protocol.ClientOptions{Size: 1 << 20}, Connections: 64, Pipeline: 4}, true},
		{"past 256 MiB in flight", Config{Client: protocol.ClientOptions{Size: 1 << 20}, Connections: 64, Pipeline: 5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Addr, tc.cfg.Requests = "127.0.0.1:1", 1
			err := tc.cfg.normalize()
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("normalize: %v, want ok %v or ErrConfig", err, tc.ok)
			}
		})
	}
}
