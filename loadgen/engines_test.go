package loadgen

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

func startHello(t *testing.T) string { return startHelloOn(t, "tcp") }

func startHelloOn(t *testing.T, network string) string {
	t.Helper()
	srv, err := goroutine.Start(targets.Config{Network: network, Protocol: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String()
}

// TestFileGetReplier drives the file protocol, whose get needs the client
// to answer yes:SIZE with ok (protocol.Replier): without it every request
// would stall until its timeout.
func TestFileGetReplier(t *testing.T) {
	root := t.TempDir()
	files := map[string]int{"empty": 0, "small": 100, "big": 200 << 10}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(root, name), protocol.AppendPattern(nil, size, 7), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := goroutine.Start(targets.Config{Protocol: "file", Options: protocol.Options{Root: root}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addrs()[0].String()
	tests := []struct {
		name      string
		file      string
		reconnect bool
	}{
		{name: "small file", file: "small"},
		{name: "empty file: ok owed at yes:0", file: "empty"},
		{name: "file larger than the read buffer", file: "big"},
		{name: "short connections", file: "small", reconnect: true},
	}
	for _, engine := range engines {
		for _, tc := range tests {
			t.Run(engine+" "+tc.name, func(t *testing.T) {
				const n = 40
				cfg := Config{
					Addr: addr, Protocol: "file", Client: protocol.ClientOptions{Name: tc.file},
					Connections: 2, Requests: n, Reconnect: tc.reconnect, Engine: engine,
					Timeout: 10 * time.Second,
				}
				res := run(t, cfg)
				if res.TotalErrors() != 0 || res.Requests != n {
					t.Fatalf("requests = %d, errors = %v (%v); want %d and none", res.Requests, res.Errors, res.FirstErrors, n)
				}
				// Each get sends get>NAME\n and ok\n.
				if want := int64(n * (len("get>\n") + len(tc.file) + len("ok\n"))); res.BytesSent != want {
					t.Errorf("bytes sent = %d, want %d", res.BytesSent, want)
				}
				if want := int64(n * files[tc.file]); res.BytesReceived < want {
					t.Errorf("bytes received = %d, want at least %d", res.BytesReceived, want)
				}
			})
		}
	}
	// A missing file is a refusal, not a stall.
	for _, engine := range engines {
		t.Run(engine+" missing file", func(t *testing.T) {
			res := run(t, Config{Addr: addr, Protocol: "file", Client: protocol.ClientOptions{Name: "none"}, Requests: 5, Engine: engine, Timeout: 10 * time.Second})
			if res.Errors[Refused] != 5 || res.TotalErrors() != 5 {
				t.Fatalf("errors = %v (%v), want 5 refused", res.Errors, res.FirstErrors)
			}
		})
	}
}

// TestDefaultEngine checks which engine a configuration gets by default.
func TestDefaultEngine(t *testing.T) {
	stream := EngineGoroutine
	if epollAvailable {
		stream = EngineEpoll
	}
	tests := []struct {
		name    string
		network string
		want    string
	}{
		{name: "tcp", network: "tcp", want: stream},
		{name: "unix", network: "unix", want: stream},
		{name: "udp", network: "udp", want: EngineGoroutine},
		{name: "unixgram", network: "unixgram", want: EngineGoroutine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := "127.0.0.1:1"
			if tc.network == "unix" || tc.network == "unixgram" {
				addr = "/tmp/none"
			}
			cfg := Config{Network: tc.network, Addr: addr, Requests: 1}
			if err := cfg.normalize(); err != nil {
				t.Fatal(err)
			}
			if cfg.Engine != tc.want {
				t.Errorf("engine = %q, want %q", cfg.Engine, tc.want)
			}
		})
	}
}
