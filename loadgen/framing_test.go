package loadgen

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/dgram"
	"github.com/socklab/socklab/targets/goroutine"
)

// TestRawFraming drives every framed protocol's raw client against socklab's
// raw server with both engines: lock-step requests complete with no wrong or
// short reply, and nothing the client sends carries a newline a tutorial
// server would take for part of the message.
func TestRawFraming(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), protocol.AppendPattern(nil, 100<<10, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		protocol string
		client   protocol.ClientOptions
		// sent is the bytes one request puts on the wire.
		sent int
	}{
		{protocol: "hello", client: protocol.ClientOptions{Name: "Michael"}, sent: len("Michael")},
		{protocol: "ack", sent: len("message 0")},
		{protocol: "banner"},
		{protocol: "poetry"},
		{protocol: "file", client: protocol.ClientOptions{Name: "f"}, sent: len("get>f") + len("ok")},
		{protocol: "http", sent: len("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")},
	}
	for _, tc := range tests {
		opts := protocol.Options{Framing: protocol.Raw, Root: root, LineDelay: time.Millisecond}
		srv, err := goroutine.Start(targets.Config{Protocol: tc.protocol, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		for _, engine := range engines {
			t.Run(engine+" "+tc.protocol, func(t *testing.T) {
				const n = 20
				co := tc.client
				co.Options = opts
				res := run(t, Config{Addr: srv.Addrs()[0].String(), Protocol: tc.protocol, Client: co,
					Connections: 2, Requests: n, Engine: engine, Timeout: 10 * time.Second})
				if res.TotalErrors() != 0 || res.Requests != n {
					t.Fatalf("requests = %d, errors = %v (%v); want %d and none", res.Requests, res.Errors, res.FirstErrors, n)
				}
				if want := int64(n * tc.sent); res.BytesSent != want {
					t.Errorf("bytes sent = %d, want %d", res.BytesSent, want)
				}
			})
		}
	}
}

func TestRawFramingIsLockStep(t *testing.T) {
	_, err := Run(t.Context(), Config{Addr: "127.0.0.1:1", Protocol: "ack", Pipeline: 2, Requests: 1,
		Client: protocol.ClientOptions{Options: protocol.Options{Framing: protocol.Raw}}})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
}

// TestNoReply is the tutorial's receive-only UDP server (seed 003): every
// datagram sent is a request done, none is an error; and a server that does
// answer is caught.
func TestNoReply(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	const n = 50
	res := run(t, Config{Network: "udp", Addr: pc.LocalAddr().String(), Protocol: "echo", NoReply: true,
		Rate: Constant(5000), Requests: n, Timeout: time.Second})
	if res.Requests != n || res.TotalErrors() != 0 {
		t.Fatalf("requests = %d, errors = %v (%v); want %d and none", res.Requests, res.Errors, res.FirstErrors, n)
	}

	echo, err := dgram.Start(targets.Config{Network: "udp", Protocol: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	res = run(t, Config{Network: "udp", Addr: echo.Addrs()[0].String(), Protocol: "echo", NoReply: true,
		Rate: Constant(200), Duration: 300 * time.Millisecond, Timeout: time.Second})
	if res.Errors[WrongReply] == 0 {
		t.Fatalf("errors = %v: the echo server's replies are not counted as unsolicited", res.Errors)
	}
}

// TestRequestCountEndsWhenRefused: a run bounded by -n alone against a
// server that refuses every connection ends once its requests are spent
// as connect errors, instead of retrying forever.
func TestRequestCountEndsWhenRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: every connect is refused
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			res, err := Run(ctx, Config{Addr: addr, Connections: 2, Requests: 5, Engine: engine})
			if err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatal("the run did not end by itself")
			}
			if res.Errors[ConnectRefused] != 5 {
				t.Fatalf("errors = %v, want 5 connect_refused", res.Errors)
			}
		})
	}
}
