package registry_test

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// perConnLimit is the stated bound on what a connection whose client asks
// for large replies and reads none of them costs a server: replies owed
// under protocol.HighWater and one reply or read (64 KiB), in a buffer that
// may have grown to twice that; one read of input held unanswered, one read
// queued (reactor-pool) and a call's own output in flight (HighWater
// again), one unfinished line (64 KiB), and a blocking model's read buffer.
const perConnLimit = 768 << 10

// TestNonReadingClientsMemoryBounded: clients that ask for large replies
// (large echo input, pipelined short requests whose replies are many times
// their size, a get of a large file) and never read cost each server a
// bounded amount of memory per connection, whatever the protocol. Before,
// the reactors kept about 2.7 MB per such client: 1 000 of them took 2.7 GB.
func TestNonReadingClientsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap under 40 stalled clients per case")
	}
	const clients = 40
	big := strings.Repeat("x", 4<<20)
	requests := map[string]string{
		// More than the kernel's buffers on both sides take.
		"echo": strings.Repeat("x", 16<<20),
		"ack":  strings.Repeat("\n", 4<<20),
		"http": strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", (4<<20)/27),
		"file": "get>big\nok\n",
	}
	// One model per driver of the connection core: the reactor's stream,
	// the asyncore handler, the reactor-pool's deferred calls, and the
	// blocking loop.
	for _, model := range []string{"epoll", "dispatcher", "reactor-pool", "goroutine"} {
		m, err := registry.Lookup(model)
		if err != nil {
			t.Fatal(err)
		}
		for _, proto := range []string{"echo", "ack", "http", "file"} {
			t.Run(model+"/"+proto, func(t *testing.T) {
				// Not parallel: the heap is the process's.
				cfg := targets.Config{Protocol: proto}
				if proto == "file" {
					root := t.TempDir()
					if err := os.WriteFile(filepath.Join(root, "big"), []byte(big), 0o644); err != nil {
						t.Fatal(err)
					}
					cfg.Options = protocol.Options{Root: root}
				}
				srv := start(t, m, cfg)
				before := liveHeap()
				a := srv.Addrs()[0]
				var wg sync.WaitGroup
				for range clients {
					c, err := net.Dial(a.Network(), a.String())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					c.(*net.TCPConn).SetReadBuffer(4 << 10)
					wg.Add(1)
					go func() {
						defer wg.Done()
						// The server stops reading once it owes enough:
						// the write blocks, and its deadline ends it.
						c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
						c.Write([]byte(requests[proto]))
					}()
				}
				wg.Wait()
				after := settledHeap()
				per := (int64(after) - int64(before)) / clients
				t.Logf("%s %s: %d KiB per connection that does not read", model, proto, per>>10)
				if per > perConnLimit {
					t.Fatalf("%d KiB of heap per connection that does not read, over %d KiB", per>>10, perConnLimit>>10)
				}
			})
		}
	}
}

// liveHeap returns the bytes of heap objects a full collection found live,
// not counting what was allocated since (runtime/metrics' live heap).
func liveHeap() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// settledHeap returns the least live heap of a few collections 100 ms
// apart. A server may still be busy writing into the kernel's socket
// buffers (they take megabytes before a client that reads nothing stops
// them), and what it allocates during a collection counts as live in that
// one; what a connection keeps shows in every collection.
func settledHeap() uint64 {
	least := liveHeap()
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		least = min(least, liveHeap())
	}
	return least
}
