package dgram_test

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/dgram"
)

func TestUnixgramOverLimitDroppedNotTruncated(t *testing.T) {
	srv, err := dgram.Start(targets.Config{Network: targets.Unixgram, Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pc, err := net.ListenPacket(targets.Unixgram, filepath.Join(t.TempDir(), "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	pc.(*net.UnixConn).SetWriteBuffer(1 << 20)
	// Over 64 KiB: a unixgram socket can carry it, the server must not
	// echo a truncated copy. The datagram after it is echoed as usual.
	if _, err := pc.WriteTo(make([]byte, dgram.MaxDatagram+100), srv.Addrs()[0]); err != nil {
		t.Skipf("send of %d bytes over unixgram: %v", dgram.MaxDatagram+100, err)
	}
	if _, err := pc.WriteTo([]byte("next"), srv.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<18)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], []byte("next")) {
		t.Fatalf("first reply is %d bytes, want %q: an over-limit datagram was echoed", n, "next")
	}
}

func TestStartRefusesStreamNetworksAndOtherProtocols(t *testing.T) {
	tests := []struct {
		name string
		cfg  targets.Config
	}{
		{name: "tcp", cfg: targets.Config{Network: targets.TCP, Protocol: "echo"}},
		{name: "hello over udp", cfg: targets.Config{Network: targets.UDP, Protocol: "hello"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if srv, err := dgram.Start(tt.cfg); err == nil {
				srv.Close()
				t.Fatalf("Start(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
}

func TestCloseRemovesSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "srv")
	srv, err := dgram.Start(targets.Config{Network: targets.Unixgram, Listen: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	pc, err := net.ListenPacket(targets.Unixgram, path)
	if err != nil {
		t.Fatalf("bind %s after Close: %v; want the socket file removed", path, err)
	}
	pc.Close()
}
