package targets

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
)

// Socket options of the listeners made here, stated once for every model
// that uses them: Go's net package sets SO_REUSEADDR on TCP listeners, uses
// the kernel's somaxconn as the backlog, and turns TCP_NODELAY on for every
// accepted TCP connection. The reactor models make their own sockets with the
// same choices.

// ListenAddrs returns the addresses cfg asks for, or the default: one
// listener on 127.0.0.1:0, or a fresh temporary path for Unix networks. The
// returned cleanup removes any temporary directory it made.
func ListenAddrs(cfg Config) (addrs []string, cleanup func(), err error) {
	if len(cfg.Listen) > 0 {
		return cfg.Listen, func() {}, nil
	}
	if !protocol.IsUnix(cfg.Network) {
		return []string{"127.0.0.1:0"}, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "socklab-")
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", cfg.Network, err)
	}
	return []string{filepath.Join(dir, "sock")}, func() { os.RemoveAll(dir) }, nil
}

// Listen opens cfg's stream listeners. The cleanup closes them and removes
// any temporary directory; it is idempotent.
func Listen(cfg Config) ([]net.Listener, func(), error) {
	addrs, rmdir, err := ListenAddrs(cfg)
	if err != nil {
		return nil, nil, err
	}
	var ls []net.Listener
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			for _, l := range ls {
				l.Close()
			}
			rmdir()
		})
	}
	for _, a := range addrs {
		l, err := net.Listen(cfg.Network, a)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		ls = append(ls, l)
	}
	return ls, cleanup, nil
}

// ListenPacket opens cfg's datagram sockets, as Listen does for streams.
func ListenPacket(cfg Config) ([]net.PacketConn, func(), error) {
	addrs, rmdir, err := ListenAddrs(cfg)
	if err != nil {
		return nil, nil, err
	}
	var pcs []net.PacketConn
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			for _, pc := range pcs {
				pc.Close()
			}
			rmdir()
		})
	}
	for _, a := range addrs {
		pc, err := net.ListenPacket(cfg.Network, a)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		pcs = append(pcs, pc)
	}
	return pcs, cleanup, nil
}

// AcceptLoop accepts connections on l and hands each to handle until l is
// closed, when it returns nil. Accept errors other than the listener's close
// (EMFILE, ENFILE, ECONNABORTED, ENOBUFS) never end the loop: it backs off
// from 5 ms doubling to 1 s, as net/http does, and keeps serving the
// connections it has.
func AcceptLoop(l net.Listener, log *slog.Logger, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = Backoff(delay)
			log.Warn("accept failed; backing off", "addr", l.Addr(), "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		handle(c)
	}
}

// Backoff returns the next accept back-off delay after prev.
func Backoff(prev time.Duration) time.Duration {
	if prev == 0 {
		return 5 * time.Millisecond
	}
	return min(2*prev, time.Second)
}

// ConnSet tracks live connections so that a server's Close can close them
// and wait for their handlers.
type ConnSet struct {
	mu     sync.Mutex
	conns  map[any]func() error
	closed bool
	wg     sync.WaitGroup
}

// Add registers a connection's closer and counts its handler as running. It
// returns false, and closes the connection, once the set is closed.
func (s *ConnSet) Add(key any, closeFn func() error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closeFn()
		return false
	}
	if s.conns == nil {
		s.conns = make(map[any]func() error)
	}
	s.conns[key] = closeFn
	s.wg.Add(1)
	return true
}

// Done marks the handler of key finished.
func (s *ConnSet) Done(key any) {
	s.mu.Lock()
	delete(s.conns, key)
	s.mu.Unlock()
	s.wg.Done()
}

// Len returns the number of live connections.
func (s *ConnSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// CloseAndWait closes every live connection, refuses new ones, and waits for
// every handler to finish.
func (s *ConnSet) CloseAndWait() {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		c()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
