package goroutine_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

func TestSeveralListenersServeTheSameProtocol(t *testing.T) {
	// The tutorial's poetry server listens on three ports.
	srv, err := goroutine.Start(targets.Config{Protocol: "echo", Listen: []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addrs := srv.Addrs()
	if len(addrs) != 3 {
		t.Fatalf("%d addresses, want 3", len(addrs))
	}
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a.String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "hi")
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "hi" {
			t.Fatalf("listener %s: got %q, %v; want %q then EOF", a, got, err, "hi")
		}
	}
}

func TestStartRefusesDatagramNetworksAndUnknownProtocols(t *testing.T) {
	tests := []struct {
		name string
		cfg  targets.Config
	}{
		{name: "udp", cfg: targets.Config{Network: targets.UDP, Protocol: "echo"}},
		{name: "unknown protocol", cfg: targets.Config{Protocol: "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if srv, err := goroutine.Start(tt.cfg); err == nil {
				srv.Close()
				t.Fatalf("Start(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
}
