package reactor

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
)

// Socket options, the reactor's own choice, stated once:
//   - every socket is made non-blocking and close-on-exec at creation
//     (SOCK_NONBLOCK|SOCK_CLOEXEC on socket(2) and accept4(2));
//   - TCP listeners set SO_REUSEADDR, so that a restarted server can bind
//     while old connections sit in TIME_WAIT;
//   - the backlog is the kernel's somaxconn (read from /proc, 4096 if it
//     cannot be read), as Go's net package does;
//   - accepted TCP connections set TCP_NODELAY: replies are written whole
//     from the output buffer, so Nagle's algorithm would only add latency;
//   - reuseport listeners also set SO_REUSEPORT, so the kernel spreads new
//     connections across the reactors' listeners (Linux).

// backlog returns the listen backlog: the kernel's somaxconn.
func backlog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 4096
	}
	return n
}

// sockaddr resolves addr on network to a socket family and address.
func sockaddr(network, addr string) (int, unix.Sockaddr, error) {
	switch network {
	case "unix", "unixgram":
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: addr}, nil
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return 0, nil, fmt.Errorf("resolve %s %s: %w", network, addr, net.UnknownNetworkError(network))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, nil, fmt.Errorf("resolve %s %s: %w", network, addr, err)
	}
	p, err := net.LookupPort(network, port)
	if err != nil {
		return 0, nil, fmt.Errorf("resolve %s %s: %w", network, addr, err)
	}
	var ip net.IP
	if host != "" {
		if ip = net.ParseIP(host); ip == nil {
			ips, err := net.LookupIP(host)
			if err != nil || len(ips) == 0 {
				return 0, nil, fmt.Errorf("resolve %s %s: %w", network, addr, err)
			}
			ip = ips[0]
		}
	}
	six := strings.HasSuffix(network, "6")
	if ip4 := ip.To4(); !six && (ip == nil || ip4 != nil) {
		sa := &unix.SockaddrInet4{Port: p}
		copy(sa.Addr[:], ip4)
		return unix.AF_INET, sa, nil
	}
	sa := &unix.SockaddrInet6{Port: p}
	copy(sa.Addr[:], ip.To16())
	return unix.AF_INET6, sa, nil
}

// netAddr converts a socket address to a net.Addr of network.
func netAddr(network string, sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ip := net.IP(append([]byte(nil), sa.Addr[:]...))
		if strings.HasPrefix(network, "udp") {
			return &net.UDPAddr{IP: ip, Port: sa.Port}
		}
		return &net.TCPAddr{IP: ip, Port: sa.Port}
	case *unix.SockaddrInet6:
		ip := net.IP(append([]byte(nil), sa.Addr[:]...))
		if strings.HasPrefix(network, "udp") {
			return &net.UDPAddr{IP: ip, Port: sa.Port}
		}
		return &net.TCPAddr{IP: ip, Port: sa.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: network}
	}
	return nil
}

// Socket is one listening stream socket or bound datagram socket.
type Socket struct {
	Fd   int
	Addr net.Addr
	path string // a Unix socket's path, unlinked on close
}

// Listen makes a listening (stream) or bound (datagram) socket on addr.
// With reusePort it sets SO_REUSEPORT before binding.
func Listen(network, addr string, reusePort bool) (*Socket, error) {
	family, sa, err := sockaddr(network, addr)
	if err != nil {
		return nil, err
	}
	dgram := protocol.IsDatagram(network)
	typ := unix.SOCK_STREAM
	if dgram {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: socket: %w", network, addr, err)
	}
	fail := func(op string, err error) (*Socket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("listen %s %s: %s: %w", network, addr, op, err)
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt SO_REUSEADDR", err)
		}
		if reusePort {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return fail("setsockopt SO_REUSEPORT", err)
			}
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	s := &Socket{Fd: fd}
	if family == unix.AF_UNIX {
		s.path = addr
	}
	if !dgram {
		if err := unix.Listen(fd, backlog()); err != nil {
			s.Close()
			return nil, fmt.Errorf("listen %s %s: %w", network, addr, err)
		}
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen %s %s: getsockname: %w", network, addr, err)
	}
	s.Addr = netAddr(network, bound)
	return s, nil
}

// Close closes the socket and removes a Unix socket's path.
func (s *Socket) Close() {
	unix.Close(s.Fd)
	if s.path != "" {
		os.Remove(s.path)
	}
}
