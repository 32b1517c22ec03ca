// Package thread is the thread-per-connection model of the tutorials'
// threading.Thread and ThreadingTCPServer servers, done as C or Python do
// it: the listening socket is a raw descriptor, and each accepted
// connection gets a goroutine locked to its own OS thread
// (runtime.LockOSThread) that makes blocking read(2), write(2), poll(2) and
// shutdown(2) calls on the connection's raw, blocking descriptor. Go's
// netpoller is not involved.
//
// Go stops a program that uses more than 10 000 OS threads, so the model
// caps its connections (Config.MaxConns, default DefaultMaxConns, at most
// MaxConnsLimit); past the cap it stops accepting until a thread frees, and
// further clients wait in the listen backlog: the server neither dies nor
// drops anyone it accepted.
package thread

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
	"github.com/socklab/socklab/targets"
)

// DefaultMaxConns is the cap on concurrent connections, and so on threads,
// when Config.MaxConns is 0: well under Go's limit of 10 000 threads.
const DefaultMaxConns = 1000

// MaxConnsLimit is the highest cap the model takes. The Go runtime stops a
// program that uses more than 10 000 OS threads (debug.SetMaxThreads) with a
// fatal error and a dump of every goroutine; besides one thread per
// connection it needs threads of its own (one per P, sysmon, the GC) and one
// per listener, blocked in poll(2). A cap of 20 000 died so at 10 500
// clients; this one leaves a thousand threads to spare.
const MaxConnsLimit = 9000

// threadReserve is how many threads the cap leaves to the rest of the
// system when it is checked against what the kernel has left.
const threadReserve = 256

// backlog is listen(2)'s backlog; the kernel caps it at somaxconn, as Go's
// net package does.
const backlog = 4096

// Model describes the thread model for the registry.
var Model = targets.Model{
	Name:     "thread",
	Summary:  "one OS thread per connection: LockOSThread and blocking syscalls on a raw fd",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: maxConns,
	Note:     "at most --max-conns threads (default 1000, at most 9000: Go's limit is 10 000 threads); past it, new clients wait in the listen backlog",
	Limit:    limit,
	Start:    Start,
}

func maxConns(cfg targets.Config) int {
	if cfg.MaxConns > 0 {
		return cfg.MaxConns
	}
	return DefaultMaxConns
}

// limit refuses a cap the model cannot hold: past MaxConnsLimit, or past
// the threads the system has left, since a thread the runtime fails to
// create is as fatal as one past its own limit.
func limit(cfg targets.Config) error {
	n := maxConns(cfg)
	if err := targets.AtMost("thread", "max-conns", n, MaxConnsLimit,
		"a connection is an OS thread, and Go stops a program at 10 000"); err != nil {
		return err
	}
	if free, ok := freeThreads(); ok {
		return targets.AtMost("thread", "max-conns", n, max(free-threadReserve, 0),
			"the threads this system has left: kernel.threads-max, kernel.pid_max, ulimit -u")
	}
	return nil
}

// freeThreads returns how many more threads the system lets this process
// make: the lesser of kernel.threads-max and kernel.pid_max less the threads
// that exist (the total of /proc/loadavg), and the soft RLIMIT_NPROC of a
// user that is not root (which counts the user's other threads too, so it is
// an upper bound). ok is false where none of this is known.
func freeThreads() (free int, ok bool) {
	readInt := func(path string, field int) (int, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if field >= len(f) {
			return 0, false
		}
		n, err := strconv.Atoi(f[field])
		return n, err == nil
	}
	threadsMax, ok1 := readInt("/proc/sys/kernel/threads-max", 0)
	pidMax, ok2 := readInt("/proc/sys/kernel/pid_max", 0)
	var total int
	ok3 := false
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		// "0.20 0.18 0.12 1/80 11206": 80 threads exist.
		if f := strings.Fields(string(b)); len(f) >= 4 {
			if _, t, found := strings.Cut(f[3], "/"); found {
				n, err := strconv.Atoi(t)
				total, ok3 = n, err == nil
			}
		}
	}
	free = math.MaxInt
	if ok1 && ok2 && ok3 {
		free, ok = min(threadsMax, pidMax)-total, true
	}
	var rl unix.Rlimit
	if os.Getuid() != 0 && unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && rl.Cur < math.MaxInt32 {
		free, ok = min(free, int(rl.Cur)), true
	}
	return free, ok
}

// Server is a running thread-per-connection server.
type Server struct {
	lfds    []int
	addrs   []net.Addr
	paths   []string // Unix socket files to remove on Close
	rmdir   func()
	wakeR   int // readable once Close starts: wakes the accept loops
	wakeW   int
	slots   chan struct{}
	done    chan struct{}
	log     func(msg string, args ...any)
	conns   targets.ConnSet
	loops   sync.WaitGroup
	once    sync.Once
	session protocol.Factory
	opts    conn.Options
}

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	newSession, err := targets.Normalize(&cfg)
	if err != nil {
		return nil, err
	}
	// Model.Check, without the initialisation cycle of naming Model here.
	if err := (targets.Model{Name: "thread", Limit: limit}).Check(cfg); err != nil {
		return nil, err
	}
	// This model never needs Go's netpoller, but the runtime creates it
	// (epoll_create, one descriptor) on the first Go timer, and a failure
	// there is fatal. Make it now, while descriptors are free, not at the
	// first timer after the server has run out of them (EMFILE).
	time.AfterFunc(time.Hour, func() {}).Stop()
	addrs, rmdir, err := targets.ListenAddrs(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		rmdir:   rmdir,
		slots:   make(chan struct{}, maxConns(cfg)),
		done:    make(chan struct{}),
		log:     cfg.Log.Debug,
		session: newSession,
		opts:    cfg.ConnOptions(),
		wakeR:   -1,
		wakeW:   -1,
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		s.release()
		return nil, fmt.Errorf("listen %s: pipe: %w", cfg.Network, err)
	}
	s.wakeR, s.wakeW = p[0], p[1]
	for _, a := range addrs {
		fd, addr, err := listen(cfg.Network, a)
		if err != nil {
			s.release()
			return nil, err
		}
		s.lfds = append(s.lfds, fd)
		s.addrs = append(s.addrs, addr)
		if ua, ok := addr.(*net.UnixAddr); ok {
			s.paths = append(s.paths, ua.Name)
		}
	}
	for i, fd := range s.lfds {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			s.acceptLoop(fd, s.addrs[i], cfg)
		}()
	}
	return s, nil
}

// listen makes a blocking-mode listening socket for network and address
// with socket(2), bind(2) and listen(2). The listening descriptor itself is
// non-blocking, so that a connection reset between poll and accept does not
// block the accept loop; accepted descriptors are blocking.
func listen(network, address string) (int, net.Addr, error) {
	fail := func(op string, err error) (int, net.Addr, error) {
		return -1, nil, fmt.Errorf("listen %s %s: %s: %w", network, address, op, err)
	}
	var (
		family int
		sa     unix.Sockaddr
	)
	if network == targets.Unix {
		family, sa = unix.AF_UNIX, &unix.SockaddrUnix{Name: address}
	} else {
		ta, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return fail("resolve", err)
		}
		switch ip4 := ta.IP.To4(); {
		case network == "tcp6" || (ta.IP != nil && ip4 == nil):
			a := &unix.SockaddrInet6{Port: ta.Port}
			copy(a.Addr[:], ta.IP.To16())
			family, sa = unix.AF_INET6, a
		default:
			a := &unix.SockaddrInet4{Port: ta.Port}
			if ip4 != nil {
				copy(a.Addr[:], ip4)
			}
			family, sa = unix.AF_INET, a
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fail("socket", err)
	}
	if family != unix.AF_UNIX {
		// The same choice as Go's net package: a restarted server can
		// bind the port its predecessor left in TIME_WAIT.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			unix.Close(fd)
			return fail("setsockopt SO_REUSEADDR", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return fail("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return fail("getsockname", err)
	}
	return fd, toAddr(bound), nil
}

// toAddr converts a socket address to the net.Addr Go's net package would
// report.
func toAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: targets.Unix}
	}
	return nil
}

// acceptLoop accepts connections on the listening descriptor fd until
// Close. It takes a thread slot before each accept, so that past the cap
// new clients wait in the backlog. Accept errors (EMFILE above all) back
// off with targets.Backoff and never end the loop.
func (s *Server) acceptLoop(fd int, addr net.Addr, cfg targets.Config) {
	var delay time.Duration
	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.done:
			return
		}
		cfd, err := s.accept(fd)
		if err != nil {
			<-s.slots
			if errors.Is(err, errClosed) {
				return
			}
			delay = targets.Backoff(delay)
			cfg.Log.Warn("accept failed; backing off", "addr", addr, "err", err, "delay", delay)
			if !s.sleep(delay) {
				return
			}
			continue
		}
		delay = 0
		c := &fdConn{fd: cfd}
		if !s.conns.Add(c, c.shutdown) {
			c.Close()
			<-s.slots
			return
		}
		go s.serve(c)
	}
}

var errClosed = errors.New("server closed")

// accept waits until fd has a connection or Close starts, and accepts it.
func (s *Server) accept(fd int) (int, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(s.wakeR), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, os.NewSyscallError("poll", err)
		}
		if fds[1].Revents != 0 {
			return -1, errClosed
		}
		if fds[0].Revents == 0 {
			continue
		}
		// No SOCK_NONBLOCK: the connection's thread blocks on it.
		cfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		case err != nil:
			return -1, os.NewSyscallError("accept4", err)
		}
		return cfd, nil
	}
}

// sleep waits for d or until Close starts; it returns false on Close.
//
// It waits in poll(2) on the wake pipe rather than on a Go timer: this model
// never uses the runtime's netpoller, which the first Go timer initialises,
// and that initialisation needs a descriptor (epoll_create). Under EMFILE it
// would fail, and the runtime treats that as fatal.
func (s *Server) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := int((time.Until(deadline) + time.Millisecond - 1) / time.Millisecond)
		if ms <= 0 {
			return true
		}
		fds := []unix.PollFd{{Fd: int32(s.wakeR), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return true
		case n > 0:
			return false
		}
	}
}

// serve runs one connection on its own OS thread.
func (s *Server) serve(c *fdConn) {
	// The goroutine keeps its thread for its whole life and exits while
	// still locked, so the runtime ends the thread rather than reuse it:
	// one thread per connection, as in the tutorial.
	runtime.LockOSThread()
	defer func() { <-s.slots }()
	defer s.conns.Done(c)
	if sa, err := unix.Getsockname(c.fd); err == nil {
		if _, unixSock := sa.(*unix.SockaddrUnix); !unixSock {
			// Go's choice for every TCP connection, stated here too so
			// that the models compare fairly.
			unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
	}
	if err := targets.ServeStreamWith(c, s.session(), s.opts); err != nil {
		s.log("connection ended", "fd", c.fd, "err", err)
	}
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Close stops accepting, wakes and closes every connection's thread and
// waits for them all.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.done)
		unix.Write(s.wakeW, []byte{0})
		s.loops.Wait()
		s.conns.CloseAndWait()
		s.release()
	})
	return nil
}

// release closes the descriptors and removes the socket files.
func (s *Server) release() {
	for _, fd := range s.lfds {
		unix.Close(fd)
	}
	for _, p := range s.paths {
		os.Remove(p)
	}
	for _, fd := range []int{s.wakeR, s.wakeW} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	s.rmdir()
}
