package probe_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/probe"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// serve starts socklab's goroutine model speaking proto under f.
func serve(t *testing.T, proto string, f protocol.Framing) string {
	t.Helper()
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(targets.Config{Protocol: proto, Options: protocol.Options{
		Framing: f, Root: root, LineDelay: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String()
}

// TestFindsTheFramingOfEveryReferenceServer probes socklab's own servers in
// both dialects: the probe must say back the framing each was started with.
func TestFindsTheFramingOfEveryReferenceServer(t *testing.T) {
	for _, p := range protocol.All() {
		if !p.Stream || !p.Framed {
			continue
		}
		for _, f := range []protocol.Framing{protocol.Line, protocol.Raw} {
			t.Run(p.Name+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				addr := serve(t, p.Name, f)
				res, err := probe.Framing(context.Background(), probe.Config{
					Network: "tcp", Addr: addr, Protocol: p.Name,
					Client: protocol.ClientOptions{Name: "f"}})
				if err != nil || res.Framing != f {
					t.Fatalf("got %v (%s), %v; want %v", res.Framing, res.Evidence, err, f)
				}
			})
		}
	}
}

func TestEchoIsNotProbed(t *testing.T) {
	res, err := probe.Framing(context.Background(), probe.Config{Network: "tcp", Addr: "127.0.0.1:1", Protocol: "echo"})
	if err != nil || res.Framing != protocol.Line || !strings.Contains(res.Evidence, "no framing") {
		t.Fatalf("got %+v, %v", res, err)
	}
}

// fake runs handle on each connection of a loopback listener.
func fake(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

func TestTutorialStyleServers(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		handle   func(c net.Conn)
		want     protocol.Framing
		wantErr  error
	}{
		{name: "ack that answers after the probe's settle time", protocol: "ack",
			handle: func(c net.Conn) {
				buf := make([]byte, 1024)
				if _, err := c.Read(buf); err != nil {
					return
				}
				time.Sleep(500 * time.Millisecond) // the tutorial's hello sleeps 1 s
				c.Write([]byte(protocol.AckReply))
				c.Read(buf)
			},
			want: protocol.Raw},
		{name: "seed 000's bare HTTP answer", protocol: "http",
			handle: func(c net.Conn) {
				buf := make([]byte, 1024)
				c.Read(buf)
				c.Write([]byte("Hello, world!"))
			},
			want: protocol.Raw},
		{name: "a server that never answers", protocol: "ack",
			handle: func(c net.Conn) {
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			},
			wantErr: probe.ErrUndecided},
		{name: "a server that closes at once", protocol: "hello",
			handle:  func(net.Conn) {},
			wantErr: probe.ErrUndecided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := fake(t, tt.handle)
			res, err := probe.Framing(context.Background(), probe.Config{
				Network: "tcp", Addr: addr, Protocol: tt.protocol, Timeout: 2 * time.Second})
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && res.Framing != tt.want {
				t.Fatalf("got %v (%s), want %v", res.Framing, res.Evidence, tt.want)
			}
			if res.Evidence == "" {
				t.Fatal("no evidence given")
			}
		})
	}
}

func TestResolve(t *testing.T) {
	addr := serve(t, "hello", protocol.Raw)
	tests := []struct {
		name     string
		cfg      probe.Config
		given    protocol.Framing
		want     protocol.Framing
		unframed bool
		how      string
	}{
		{name: "given", cfg: probe.Config{Network: "tcp", Addr: addr, Protocol: "hello"}, given: protocol.Line, want: protocol.Line, how: "given with --framing"},
		{name: "probed", cfg: probe.Config{Network: "tcp", Addr: addr, Protocol: "hello"}, given: protocol.Auto, want: protocol.Raw, how: "detected: "},
		{name: "echo", cfg: probe.Config{Network: "tcp", Addr: addr, Protocol: "echo"}, given: protocol.Raw, want: protocol.Line, unframed: true, how: "byte stream"},
		{name: "datagram", cfg: probe.Config{Network: "udp", Addr: addr, Protocol: "echo"}, given: protocol.Auto, want: protocol.Line, unframed: true, how: "a datagram"},
		{name: "nobody there", cfg: probe.Config{Network: "unix", Addr: filepath.Join(t.TempDir(), "none"), Protocol: "ack"}, given: protocol.Auto, want: protocol.Line, how: "not probed: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := probe.Resolve(context.Background(), tt.cfg, tt.given)
			if err != nil || d.Framing != tt.want || d.Unframed != tt.unframed || !strings.Contains(d.How, tt.how) {
				t.Fatalf("got %+v, %v; want %v unframed=%v how ~ %q", d, err, tt.want, tt.unframed, tt.how)
			}
			if (d.Detected != "") != strings.HasPrefix(d.How, "detected") {
				t.Fatalf("Detected %q with How %q", d.Detected, d.How)
			}
		})
	}
	if _, err := probe.Resolve(context.Background(), probe.Config{Protocol: "nope"}, protocol.Auto); err == nil {
		t.Fatal("an unknown protocol was accepted")
	}
}
