package specs_test

import (
	"bytes"
	"fmt"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/catalog"
	"github.com/socklab/socklab/targets"
)

// Datagram sizes.
const (
	maxUDPPayload = 65507
	burstCount    = 1000
)

// dgramClient is a bound datagram socket talking to tg.
type dgramClient struct {
	pc     net.PacketConn
	server net.Addr
	tg     *target
}

// newDgramClient binds a client socket: loopback port 0, or a fresh path
// (a unixgram client must be bound, or the server cannot answer it).
func newDgramClient(tg *target, name string) *dgramClient {
	var laddr string
	var raddr net.Addr
	var err error
	if tg.network == targets.Unixgram {
		laddr = tempPath(name)
		raddr = &net.UnixAddr{Name: tg.addr, Net: targets.Unixgram}
	} else {
		laddr = "127.0.0.1:0"
		raddr, err = net.ResolveUDPAddr(tg.network, tg.addr)
		check(err, "a resolvable server address", "")
	}
	pc, err := net.ListenPacket(tg.network, laddr)
	check(err, "a client socket", "")
	DeferCleanup(func() { _ = pc.Close() })
	return &dgramClient{pc: pc, server: raddr, tg: tg}
}

func (d *dgramClient) send(p []byte) {
	check(d.pc.SetWriteDeadline(time.Now().Add(d.tg.timeout)), "", "")
	_, err := d.pc.WriteTo(p, d.server)
	check(err, fmt.Sprintf("a %d-byte datagram sent", len(p)), "the server's socket is gone")
}

// recv reads one datagram within wait.
func (d *dgramClient) recv(wait time.Duration) ([]byte, net.Addr, error) {
	buf := make([]byte, 70000)
	if err := d.pc.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, nil, err
	}
	n, from, err := d.pc.ReadFrom(buf)
	return buf[:n], from, err
}

// expectEcho sends p and expects it back whole from the server.
func (d *dgramClient) expectEcho(p []byte, what, cause string) {
	d.send(p)
	got, _, err := d.recv(d.tg.timeout)
	if err != nil {
		failf(what, "no reply: "+err.Error(), cause)
	}
	if !bytes.Equal(got, p) {
		failf(what, fmt.Sprintf("a %d-byte reply %s", len(got), quote(got[:min(len(got), 40)])), cause)
	}
}

// datagramSpecs: UDP and unixgram echo. datagram-empty runs last: a server
// that takes an empty datagram for the end stops answering everything.
func datagramSpecs(tg *target) {
	// One client socket serves every spec but interleaved, so that a
	// server's mix-up between clients shows only there.
	var main *dgramClient
	if tg.kind() == catalog.Datagram {
		BeforeAll(func() { main = newDgramClient(tg, "main") })
	}

	behave(tg, "datagram-echo", func() {
		d := main
		p := []byte("socklab datagram")
		d.send(p)
		got, from, err := d.recv(tg.timeout)
		if err != nil || !bytes.Equal(got, p) {
			failf(fmt.Sprintf("the datagram %q echoed", p), fmt.Sprintf("%q (%v)", got, err), "the server replies to a fixed or stale address instead of recvfrom's")
		}
		if tg.network != targets.Unixgram && from.String() != d.server.String() {
			failf("the reply from the server's address "+d.server.String(), "a reply from "+from.String(),
				"the server answers from a new socket instead of the one the client sent to, so a connected client or a firewall drops the reply")
		}
	})

	behave(tg, "datagram-max", func() {
		d := main
		p := protocol.AppendPattern(nil, maxUDPPayload, 9)
		d.expectEcho(p, "all 65 507 bytes back in one datagram", "the server reads with recvfrom(1024) or another small buffer, which truncates the datagram")
	})

	behave(tg, "datagram-interleaved", func() {
		const clients, rounds = 3, 10
		ds := make([]*dgramClient, clients)
		for i := range ds {
			ds[i] = newDgramClient(tg, fmt.Sprintf("c%d", i))
		}
		for r := 0; r < rounds; r++ {
			for i, d := range ds {
				d.send([]byte(fmt.Sprintf("client %d round %d", i, r)))
			}
			for i, d := range ds {
				got, _, err := d.recv(tg.timeout)
				if err != nil && tg.network == targets.UDP {
					continue // UDP may lose a datagram; a wrong peer shows on the others
				}
				want := fmt.Sprintf("client %d round %d", i, r)
				if err != nil || string(got) != want {
					failf(fmt.Sprintf("client %d to receive %q", i, want), fmt.Sprintf("%q (%v)", got, err),
						"the server answers the address of another datagram (a shared variable overwritten by the next recvfrom)")
				}
			}
		}
	})

	behave(tg, "datagram-burst", func() {
		d := main
		type rx struct {
			seq []int
		}
		done := make(chan rx, 1)
		go func() {
			var r rx
			for len(r.seq) < burstCount {
				got, _, err := d.recv(tg.timeout)
				if err != nil {
					break
				}
				var n int
				if _, err := fmt.Sscanf(string(got), "burst %d", &n); err == nil {
					r.seq = append(r.seq, n)
				}
			}
			done <- r
		}()
		for i := 0; i < burstCount; i++ {
			d.send([]byte(fmt.Sprintf("burst %d", i)))
		}
		r := <-done
		if tg.network != targets.Unixgram {
			AddReportEntry("udp burst", fmt.Sprintf("%d of %d replies received (UDP may drop datagrams; loss is information, not a failure)", len(r.seq), burstCount))
			if len(r.seq) == 0 {
				failf("replies to a burst", "none", "the server stopped")
			}
			return
		}
		if len(r.seq) != burstCount {
			failf(fmt.Sprintf("all %d replies over unixgram (it does not drop)", burstCount), fmt.Sprintf("%d replies", len(r.seq)),
				"the server drops datagrams when its socket buffer is full instead of blocking or retrying")
		}
		for i, n := range r.seq {
			if n != i {
				failf("the replies in the order sent", fmt.Sprintf("reply %d is for datagram %d", i, n),
					"the server answers each datagram on its own goroutine or thread, so replies overtake each other")
			}
		}
	})

	behave(tg, "datagram-empty", func() {
		d := main
		d.send(nil)
		// An answer to the empty datagram is allowed; so is none.
		if got, _, err := d.recv(200 * time.Millisecond); err == nil && len(got) > 0 {
			failf("nothing or an empty datagram in answer to an empty datagram", quote(got), "the server answers stale bytes from its buffer")
		}
		d.expectEcho([]byte("after the empty one"), "the server still echoing after a zero-length datagram",
			"the server takes an empty recvfrom for the end of the connection, as on a stream, and stops")
	})
}
