package broken

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/socklab/socklab/targets"
)

// dgramServer is a datagram echo loop with a defect in how it reads or
// answers.
type dgramServer struct {
	pc      net.PacketConn
	cleanup func()
	wg      sync.WaitGroup
	once    sync.Once
}

// dgramDefect is one datagram loop: it reads with buf and answers; it
// returns false to stop the server's loop.
type dgramDefect func(s *dgramServer, buf []byte) bool

func startDgram(network string, readSize int, step dgramDefect) func(string) (targets.Server, error) {
	return func(string) (targets.Server, error) {
		pcs, cleanup, err := targets.ListenPacket(targets.Config{Network: network})
		if err != nil {
			return nil, err
		}
		s := &dgramServer{pc: pcs[0], cleanup: cleanup}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, readSize)
			for step(s, buf) {
			}
		}()
		return s, nil
	}
}

func (s *dgramServer) Addrs() []net.Addr { return []net.Addr{s.pc.LocalAddr()} }

func (s *dgramServer) Close() error {
	s.once.Do(func() {
		s.cleanup()
		s.wg.Wait()
	})
	return nil
}

// echoOnce reads one datagram and echoes it to its sender.
func echoOnce(s *dgramServer, buf []byte) bool {
	n, from, err := s.pc.ReadFrom(buf)
	if err != nil {
		return !errors.Is(err, net.ErrClosed)
	}
	s.pc.WriteTo(buf[:n], from)
	return true
}

// stopOnEmpty takes a zero-length datagram for the end, as an empty recv
// is on a stream, and stops.
func stopOnEmpty(s *dgramServer, buf []byte) bool {
	n, from, err := s.pc.ReadFrom(buf)
	if err != nil {
		return !errors.Is(err, net.ErrClosed)
	}
	if n == 0 {
		return false
	}
	s.pc.WriteTo(buf[:n], from)
	return true
}

// previousPeer answers each datagram to the sender of the one before it
// (an address kept in a variable that the next recvfrom overwrites first).
func previousPeer() dgramDefect {
	var prev net.Addr
	return func(s *dgramServer, buf []byte) bool {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return !errors.Is(err, net.ErrClosed)
		}
		to := prev
		if to == nil {
			to = from
		}
		prev = from
		s.pc.WriteTo(buf[:n], to)
		return true
	}
}

// goroutinePerDatagram answers each datagram on its own goroutine after a
// moment of work, so replies overtake each other.
func goroutinePerDatagram(s *dgramServer, buf []byte) bool {
	n, from, err := s.pc.ReadFrom(buf)
	if err != nil {
		return !errors.Is(err, net.ErrClosed)
	}
	p := append([]byte(nil), buf[:n]...)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		s.pc.WriteTo(p, from)
	}()
	return true
}

// replyFromNewSocket answers from a fresh socket (socket().sendto) instead
// of the one the datagram came in on.
func replyFromNewSocket(s *dgramServer, buf []byte) bool {
	n, from, err := s.pc.ReadFrom(buf)
	if err != nil {
		return !errors.Is(err, net.ErrClosed)
	}
	if pc, err := net.ListenPacket(targets.UDP, "127.0.0.1:0"); err == nil {
		pc.WriteTo(buf[:n], from)
		pc.Close()
	}
	return true
}
