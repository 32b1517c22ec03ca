package goroutine_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/goroutine"
)

func TestEchoHalfClose(t *testing.T) {
	for _, network := range []string{targets.TCP, targets.Unix} {
		t.Run(network, func(t *testing.T) {
			srv, err := goroutine.Start(targets.Config{Network: network, Protocol: "echo"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c, err := net.Dial(network, srv.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			payload := make([]byte, 1<<20)
			rand.Read(payload)
			go func() {
				c.Write(payload)
				c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echo returned %d bytes, want the %d sent", len(got), len(payload))
			}
		})
	}
}
