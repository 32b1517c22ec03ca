// Package dgram holds the datagram echo servers of the tutorials' UDPServer
// and UnixDatagramServer: every datagram goes back whole to its sender.
//
// The tutorials read with recvfrom(1024) and so cut every longer datagram;
// these servers read into 64 KiB + 1 bytes, so the largest UDP datagram
// (65 507 bytes over IPv4) comes back whole, and a unixgram datagram longer
// than 64 KiB is detected (it fills the buffer) and dropped with a log line
// rather than echoed truncated.
//
// A zero-length datagram is a datagram, not a close: it is echoed as a
// zero-length datagram. A failed send to one peer (ECONNREFUSED, or ENOENT
// for a unixgram peer whose socket file is gone) is logged and never stops
// the server. A unixgram client must bind its own path to get replies: a
// datagram from an unbound socket has no address to answer and is dropped.
package dgram

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/socklab/socklab/targets"
)

// MaxDatagram is the longest datagram echoed.
const MaxDatagram = 64 << 10

// UDP describes the UDP echo server for the registry.
var UDP = targets.Model{
	Name:     "udp",
	Summary:  "UDP echo: every datagram (up to 64 KiB, zero-length too) back to its sender",
	Networks: []string{targets.UDP},
	Capacity: func(targets.Config) int { return 0 },
	Note:     "datagram: echo protocol only; one goroutine per socket",
	Start:    Start,
}

// Unixgram describes the Unix datagram echo server for the registry.
var Unixgram = targets.Model{
	Name:     "unixgram",
	Summary:  "unixgram echo: every datagram (up to 64 KiB, zero-length too) back to its sender",
	Networks: []string{targets.Unixgram},
	Capacity: func(targets.Config) int { return 0 },
	Note:     "datagram: echo protocol only; clients must bind a path to get replies",
	Start:    Start,
}

// Server is a running datagram echo server.
type Server struct {
	pcs     []net.PacketConn
	cleanup func()
	paths   []string
	loops   sync.WaitGroup
	once    sync.Once
}

// Start starts an echo server for cfg on a datagram network (udp, udp4,
// udp6 or unixgram). An empty network means udp.
func Start(cfg targets.Config) (targets.Server, error) {
	if cfg.Network == "" {
		cfg.Network = targets.UDP
	}
	if _, err := targets.Normalize(&cfg); err != nil {
		return nil, err
	}
	if cfg.Protocol != "echo" {
		return nil, fmt.Errorf("protocol %s over %s: %w (datagram servers echo)", cfg.Protocol, cfg.Network, targets.ErrUnsupported)
	}
	pcs, cleanup, err := targets.ListenPacket(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{pcs: pcs, cleanup: cleanup}
	for _, pc := range pcs {
		if ua, ok := pc.LocalAddr().(*net.UnixAddr); ok {
			// Unlike a Unix stream listener, a unixgram socket does not
			// remove its file on close.
			s.paths = append(s.paths, ua.Name)
		}
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			echo(pc, cfg.Log)
		}()
	}
	return s, nil
}

// echo answers every datagram on pc until pc is closed.
func echo(pc net.PacketConn, log *slog.Logger) {
	buf := make([]byte, MaxDatagram+1)
	var delay time.Duration
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A pending ICMP error reported on the socket, or a kernel
			// shortage: log, back off if it repeats, carry on.
			delay = targets.Backoff(delay)
			log.Warn("recvfrom failed", "addr", pc.LocalAddr(), "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		switch {
		case n > MaxDatagram:
			log.Warn("datagram over 64 KiB dropped", "from", from)
			continue
		case unbound(from):
			log.Debug("datagram from an unbound unixgram socket: no address to answer")
			continue
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			log.Debug("sendto failed", "to", from, "err", err)
		}
	}
}

// unbound reports whether from is no address to answer: a unixgram sender
// that did not bind a path shows as a nil *net.UnixAddr.
func unbound(from net.Addr) bool {
	if from == nil {
		return true
	}
	ua, ok := from.(*net.UnixAddr)
	return ok && (ua == nil || ua.Name == "")
}

// Addrs returns the sockets' addresses.
func (s *Server) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(s.pcs))
	for i, pc := range s.pcs {
		addrs[i] = pc.LocalAddr()
	}
	return addrs
}

// Close closes the sockets, waits for their loops and removes socket files.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cleanup()
		s.loops.Wait()
		for _, p := range s.paths {
			os.Remove(p)
		}
	})
	return nil
}
