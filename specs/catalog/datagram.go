package catalog

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// Datagram sizes.
const (
	maxUDPPayload = 65507
	burstCount    = 1000
)

// dgramClient is a bound datagram socket talking to a target. Its methods
// take the spec they serve, since one client serves several behaviours
// (Target.mainDgram).
type dgramClient struct {
	pc     net.PacketConn
	server net.Addr
}

// newDgramClient binds a client socket that is closed when the behaviour
// ends: loopback port 0, or a fresh path (a unixgram client must be bound,
// or the server cannot answer it).
func newDgramClient(s *spec, name string) *dgramClient {
	d, err := s.dialDgram(name, s.cleanup)
	s.check(err, "a client socket", "")
	return d
}

// mainDgram is the target's shared client, bound on first use and closed
// with the target: every datagram behaviour but the interleaved one uses
// it, so that a server's mix-up between clients shows only there.
func (s *spec) mainDgram() *dgramClient {
	s.mu.Lock()
	d := s.dgram
	s.mu.Unlock()
	if d != nil {
		return d
	}
	d, err := s.dialDgram("main", s.onClose)
	s.check(err, "a client socket", "")
	s.mu.Lock()
	s.dgram = d
	s.mu.Unlock()
	return d
}

// dialDgram binds a client socket for s's server; release registers its
// close.
func (s *spec) dialDgram(name string, release func(func())) (*dgramClient, error) {
	var laddr string
	var raddr net.Addr
	if s.Network == targets.Unixgram {
		dir, err := os.MkdirTemp("", "socklab-spec-")
		if err != nil {
			return nil, fmt.Errorf("make a temporary directory: %w", err)
		}
		release(func() { _ = os.RemoveAll(dir) })
		laddr = filepath.Join(dir, name)
		raddr = &net.UnixAddr{Name: s.Addr, Net: targets.Unixgram}
	} else {
		a, err := net.ResolveUDPAddr(s.Network, s.Addr)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", s.Addr, err)
		}
		laddr, raddr = "127.0.0.1:0", a
		if a.IP.To4() == nil {
			laddr = "[::1]:0"
		}
	}
	pc, err := net.ListenPacket(s.Network, laddr)
	if err != nil {
		return nil, err
	}
	release(func() { _ = pc.Close() })
	return &dgramClient{pc: pc, server: raddr}, nil
}

func (d *dgramClient) send(s *spec, p []byte) {
	s.check(d.pc.SetWriteDeadline(time.Now().Add(s.Timeout)), "", "")
	_, err := d.pc.WriteTo(p, d.server)
	s.check(err, fmt.Sprintf("a %d-byte datagram sent", len(p)), "the server's socket is gone")
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

// expectEcho sends p and expects it back whole from the server. With
// lateEmpty, one empty datagram before it is let through: the answer to an
// empty datagram sent before, later than the wait for it.
func (d *dgramClient) expectEcho(s *spec, p []byte, lateEmpty bool, what, cause string) {
	d.send(s, p)
	got, _, err := d.recv(s.Timeout)
	if err == nil && len(got) == 0 && len(p) > 0 && lateEmpty {
		got, _, err = d.recv(s.Timeout)
	}
	if err != nil {
		s.failf(what, "no reply: "+err.Error(), cause)
	}
	if !bytes.Equal(got, p) {
		s.failf(what, fmt.Sprintf("a %d-byte reply %s", len(got), quote(got[:min(len(got), 40)])), cause)
	}
}

// datagramSpecs: UDP and unixgram echo. datagram-empty runs last: a server
// that takes an empty datagram for the end stops answering everything.
func init() {
	behave("datagram-echo", func(s *spec) {
		d := s.mainDgram()
		p := []byte("socklab datagram")
		d.send(s, p)
		got, from, err := d.recv(s.Timeout)
		if err != nil || !bytes.Equal(got, p) {
			s.failf(fmt.Sprintf("the datagram %q echoed", p), fmt.Sprintf("%q (%v)", got, err), "the server replies to a fixed or stale address instead of recvfrom's")
		}
		if s.Network != targets.Unixgram && from.String() != d.server.String() {
			s.failf("the reply from the server's address "+d.server.String(), "a reply from "+from.String(),
				"the server answers from a new socket instead of the one the client sent to, so a connected client or a firewall drops the reply")
		}
	})

	behave("datagram-max", func(s *spec) {
		d := s.mainDgram()
		p := protocol.AppendPattern(nil, maxUDPPayload, 9)
		d.expectEcho(s, p, false, "all 65 507 bytes back in one datagram", "the server reads with recvfrom(1024) or another small buffer, which truncates the datagram")
	})

	behave("datagram-interleaved", func(s *spec) {
		const clients, rounds = 3, 10
		ds := make([]*dgramClient, clients)
		for i := range ds {
			ds[i] = newDgramClient(s, fmt.Sprintf("c%d", i))
		}
		for r := 0; r < rounds; r++ {
			for i, d := range ds {
				d.send(s, []byte(fmt.Sprintf("client %d round %d", i, r)))
			}
			for i, d := range ds {
				got, _, err := d.recv(s.Timeout)
				if err != nil && s.Network == targets.UDP {
					continue // UDP may lose a datagram; a wrong peer shows on the others
				}
				want := fmt.Sprintf("client %d round %d", i, r)
				if err != nil || string(got) != want {
					s.failf(fmt.Sprintf("client %d to receive %q", i, want), fmt.Sprintf("%q (%v)", got, err),
						"the server answers the address of another datagram (a shared variable overwritten by the next recvfrom)")
				}
			}
		}
	})

	behave("datagram-burst", func(s *spec) {
		d := s.mainDgram()
		type rx struct {
			seq []int
		}
		done := make(chan rx, 1)
		go func() {
			var r rx
			for len(r.seq) < burstCount {
				got, _, err := d.recv(s.Timeout)
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
			d.send(s, []byte(fmt.Sprintf("burst %d", i)))
		}
		r := <-done
		if s.Network != targets.Unixgram {
			s.note("udp burst", fmt.Sprintf("%d of %d replies received (UDP may drop datagrams; loss is information, not a failure)", len(r.seq), burstCount))
			if len(r.seq) == 0 {
				s.failf("replies to a burst", "none", "the server stopped")
			}
			return
		}
		if len(r.seq) != burstCount {
			s.failf(fmt.Sprintf("all %d replies over unixgram (it does not drop)", burstCount), fmt.Sprintf("%d replies", len(r.seq)),
				"the server drops datagrams when its socket buffer is full instead of blocking or retrying")
		}
		for i, n := range r.seq {
			if n != i {
				s.failf("the replies in the order sent", fmt.Sprintf("reply %d is for datagram %d", i, n),
					"the server answers each datagram on its own goroutine or thread, so replies overtake each other")
			}
		}
	})

	behave("datagram-empty", func(s *spec) {
		d := s.mainDgram()
		d.send(s, nil)
		// An answer to the empty datagram is allowed; so is none.
		answered := false
		if got, _, err := d.recv(200 * time.Millisecond); err == nil {
			if len(got) > 0 {
				s.failf("nothing or an empty datagram in answer to an empty datagram", quote(got), "the server answers stale bytes from its buffer")
			}
			answered = true
		}
		d.expectEcho(s, []byte("after the empty one"), !answered, "the server still echoing after a zero-length datagram",
			"the server takes an empty recvfrom for the end of the connection, as on a stream, and stops")
	})
}
