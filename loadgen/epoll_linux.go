//go:build linux

package loadgen

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll engine drives many non-blocking stream sockets from each of a
// few OS threads, one epoll loop per thread, as wrk does. Compared with a
// goroutine per connection over Go's netpoller it saves, per request, the
// read that returns EAGAIN and the park and wake-up of a goroutine: a
// socket is read only when epoll reports it readable.
//
// Readiness is level-triggered. Edge-triggered readiness would oblige the
// loop to read until EAGAIN, the very syscall this engine exists to save;
// level-triggered readiness lets it read once per report and, if more is
// waiting, simply be told again. Sockets wait for EPOLLIN only: EPOLLOUT is
// added while a connect is in progress or a write came back short, which on
// loopback is rare, so the interest changes (an epoll_ctl each) are rare.
//
// Timers (open-loop due times, request, greeting and connect timeouts,
// connect back-off) live in a per-thread min-heap of connections keyed by
// their next wake time and fire through a timerfd in the same epoll set:
// unlike epoll_wait's millisecond timeout, a timerfd wakes the loop at the
// nanosecond it is set for, so an open loop's requests are not sent a
// millisecond late. Request timeouts keep the goroutine engine's slack (a
// wake time inside [timeout, timeout+timeout/4] is left alone), so a closed
// loop touches the heap about once per timeout/4 per connection, not once per
// request.

const epollAvailable = true

// Epoll data of the two descriptors that are not connections.
const (
	evTimer = -1
	evWake  = -2
)

// econn states.
const (
	csIdle       = iota // no socket; wakes to connect
	csConnecting        // non-blocking connect in progress
	csOpen              // connected
	csDone              // finished its share of the run
)

// ethread is one epoll-engine thread: its connections, its timer heap and
// its own counters and histograms.
type ethread struct {
	stats
	cfg     *Config
	epfd    int
	tfd     int // timerfd
	efd     int // eventfd, written by interrupt
	conns   []*econn
	heap    []*econn
	armed   int64 // when the timerfd is set to fire, or 0
	active  int   // connections not done
	ended   bool  // the run's end has passed: see endRun
	events  []unix.EpollEvent
	stop    atomic.Bool
	epf     *os.File        // epfd, registered in Go's netpoller
	rc      syscall.RawConn // epf's
	readyFn func(uintptr) bool
	got     int
	family  int
	sa      unix.Sockaddr // this thread's own copy: Connect writes into it
	raddr   net.Addr      // for error messages
	tcp     bool
}

// econn is one connection of an epoll thread, with its share of the
// schedule (open loop) and of the request count (-n).
type econn struct {
	t     *ethread
	idx   int32
	gen   int32 // bumped on every new socket, so stale events are ignored
	fd    int
	state int
	evs   uint32 // registered interest

	x exchange // the client side of the exchange on the connection

	wake int64 // heap key
	hidx int   // index in the heap, -1 if not in it
}

func (r *runner) newEpollThreads() error {
	cfg := &r.cfg
	var family int
	var sa func() unix.Sockaddr
	var raddr net.Addr
	tcp := cfg.Network != "unix"
	if tcp {
		a, err := net.ResolveTCPAddr(cfg.Network, cfg.Addr)
		if err != nil {
			return fmt.Errorf("%w: load %s %s: resolve: %w", ErrConfig, cfg.Network, cfg.Addr, err)
		}
		raddr = a
		if ip4 := a.IP.To4(); ip4 != nil && cfg.Network != "tcp6" {
			family = unix.AF_INET
			sa = func() unix.Sockaddr { s := &unix.SockaddrInet4{Port: a.Port}; copy(s.Addr[:], ip4); return s }
		} else {
			family = unix.AF_INET6
			zone := uint32(0)
			if a.Zone != "" {
				if ifi, err := net.InterfaceByName(a.Zone); err == nil {
					zone = uint32(ifi.Index)
				}
			}
			sa = func() unix.Sockaddr {
				s := &unix.SockaddrInet6{Port: a.Port, ZoneId: zone}
				copy(s.Addr[:], a.IP.To16())
				return s
			}
		}
	} else {
		family = unix.AF_UNIX
		raddr = &net.UnixAddr{Net: "unix", Name: cfg.Addr}
		sa = func() unix.Sockaddr { return &unix.SockaddrUnix{Name: cfg.Addr} }
	}
	threads := make([]*ethread, cfg.Threads)
	for i := range threads {
		t, err := newEthread(r, family, sa(), raddr, tcp)
		if err != nil {
			for _, t := range threads[:i] {
				t.closeFds()
			}
			return err
		}
		threads[i] = t
		r.cleanups = append(r.cleanups, t.closeFds)
		r.units = append(r.units, t)
		r.stats = append(r.stats, &t.stats)
	}
	for id := range cfg.Connections {
		t := threads[id%len(threads)]
		c, err := newEconn(t, id)
		if err != nil {
			return err
		}
		t.conns = append(t.conns, c)
	}
	for _, t := range threads {
		t.active = len(t.conns)
		t.events = make([]unix.EpollEvent, min(max(len(t.conns), 1)+2, 512))
	}
	return nil
}

func newEthread(r *runner, family int, sa unix.Sockaddr, raddr net.Addr, tcp bool) (*ethread, error) {
	t := &ethread{cfg: &r.cfg, epfd: -1, tfd: -1, efd: -1, family: family, sa: sa, raddr: raddr, tcp: tcp}
	t.stats.init(r)
	var err error
	if t.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("load: epoll_create1: %w", err)
	}
	if t.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		t.closeFds()
		return nil, fmt.Errorf("load: timerfd_create: %w", err)
	}
	if t.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		t.closeFds()
		return nil, fmt.Errorf("load: eventfd: %w", err)
	}
	if err := unix.SetNonblock(t.epfd, true); err != nil {
		t.closeFds()
		return nil, fmt.Errorf("load: epoll fd: %w", err)
	}
	t.epf = os.NewFile(uintptr(t.epfd), "epoll")
	if t.rc, err = t.epf.SyscallConn(); err != nil {
		t.closeFds()
		return nil, fmt.Errorf("load: epoll fd: %w", err)
	}
	t.readyFn = t.ready
	for _, d := range []struct{ fd, tag int }{{t.tfd, evTimer}, {t.efd, evWake}} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(d.tag)}
		if err := unix.EpollCtl(t.epfd, unix.EPOLL_CTL_ADD, d.fd, &ev); err != nil {
			t.closeFds()
			return nil, fmt.Errorf("load: epoll_ctl: %w", err)
		}
	}
	return t, nil
}

func newEconn(t *ethread, id int) (*econn, error) {
	c := &econn{t: t, idx: int32(len(t.conns)), fd: -1, hidx: -1}
	if err := c.x.init(t.r, &t.stats, id); err != nil {
		return nil, err
	}
	return c, nil
}

func (t *ethread) closeFds() {
	if t.epf != nil {
		t.epf.Close()
		t.epf, t.epfd = nil, -1
	}
	for _, fd := range []*int{&t.epfd, &t.tfd, &t.efd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func (t *ethread) now() int64 { return int64(time.Since(t.r.base)) }

func (t *ethread) interrupt() {
	t.stop.Store(true)
	one := [8]byte{1}
	unix.Write(t.efd, one[:])
}

func (t *ethread) run() {
	defer t.finish()
	now := t.now()
	for _, c := range t.conns {
		c.setWake(now)
	}
	for t.active > 0 && !t.stop.Load() {
		now := t.now()
		if now >= t.r.cutoff {
			return
		}
		if !t.ended && now >= t.r.end {
			t.endRun(now)
		}
		for len(t.heap) > 0 && t.heap[0].wake <= now {
			c := t.heap[0]
			t.heapRemove(c)
			c.onTimer(now)
			if now = t.now(); now >= t.r.cutoff || t.stop.Load() {
				return
			}
		}
		if t.active == 0 {
			return
		}
		t.arm(now)
		n, err := t.wait()
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			t.count(Other, 1, fmt.Errorf("load: epoll_wait: %w", err))
			return
		}
		for i := range n {
			ev := &t.events[i]
			switch ev.Fd {
			case evTimer:
				var b [8]byte
				rawRead(t.tfd, b[:])
				t.armed = 0
			case evWake:
				var b [8]byte
				rawRead(t.efd, b[:])
			default:
				if c := t.conns[ev.Fd]; ev.Pad == c.gen {
					c.onEvent(ev.Events)
				}
			}
		}
	}
}

// endRun is the end of the run: no request due from now on is sent. A
// connection with nothing in flight and nothing left to send is done, and
// so is a closed loop's connection still connecting for long connections
// (what they leave is counted: see exchange.abandon); the others are given
// until the cut-off.
func (t *ethread) endRun(now int64) {
	t.ended = true
	for _, c := range t.conns {
		switch {
		case c.state == csDone:
		case c.state == csOpen && (c.x.n > 0 || c.x.closing || c.x.more(now)):
		case c.state == csConnecting && (c.x.open || c.x.reconnect):
		case c.state == csIdle && c.x.more(now):
		default:
			c.setDone(now)
		}
	}
}

// wait waits for events. It polls epfd without blocking, through a raw
// system call that costs no scheduler work, and only when nothing is ready
// parks the goroutine in Go's netpoller until epfd (itself pollable: it is
// readable when one of its sockets or timers is ready) becomes readable.
// Blocking in epoll_wait instead would hold this thread's P in a system
// call, which, with GOMAXPROCS 1 or an in-process server, leaves the rest
// of the program (its netpoller included) stalled until sysmon retakes the
// P, up to 10 ms later.
func (t *ethread) wait() (int, error) {
	if n := t.poll(); n > 0 {
		return n, nil
	}
	t.got = 0
	if err := t.rc.Read(t.readyFn); err != nil {
		return 0, err
	}
	return t.got, nil
}

// poll is epoll_wait with a zero timeout.
func (t *ethread) poll() int {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(t.epfd), uintptr(unsafe.Pointer(&t.events[0])), uintptr(len(t.events)), 0, 0, 0)
	if e != 0 {
		return 0
	}
	return int(n)
}

func (t *ethread) ready(uintptr) bool {
	t.got = t.poll()
	return t.got > 0 || t.stop.Load()
}

// arm sets the timerfd for the earliest wake time (or the end of the run,
// or its cut-off) unless it is already set to fire no later.
func (t *ethread) arm(now int64) {
	next := t.r.cutoff
	if !t.ended {
		next = t.r.end
	}
	if len(t.heap) > 0 {
		next = min(next, t.heap[0].wake)
	}
	if next >= maxInt64/2 || t.armed != 0 && t.armed <= next {
		return
	}
	d := max(next-now, 1) // a zero value would disarm the timer
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	if err := unix.TimerfdSettime(t.tfd, 0, &spec, nil); err == nil {
		t.armed = next
	}
}

func (t *ethread) finish() {
	now := t.now()
	for _, c := range t.conns {
		if c.state != csDone {
			c.setDone(now)
		}
	}
	t.publish()
	// The eventfd stays open until Run returns: interrupt may still write
	// to it from the cancelling goroutine.
	if t.epf != nil {
		t.epf.Close()
		t.epf, t.epfd = nil, -1
	}
	unix.Close(t.tfd)
	t.tfd = -1
}

// Timer heap: a binary min-heap of connections by wake time.

func (t *ethread) heapLess(i, j int) bool { return t.heap[i].wake < t.heap[j].wake }

func (t *ethread) heapSwap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (t *ethread) heapUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.heapLess(i, p) {
			return
		}
		t.heapSwap(i, p)
		i = p
	}
}

func (t *ethread) heapDown(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.heapLess(r, l) {
			m = r
		}
		if !t.heapLess(m, i) {
			return
		}
		t.heapSwap(i, m)
		i = m
	}
}

func (t *ethread) heapRemove(c *econn) {
	i := c.hidx
	if i < 0 {
		return
	}
	last := len(t.heap) - 1
	if i != last {
		t.heapSwap(i, last)
	}
	t.heap[last] = nil
	t.heap = t.heap[:last]
	c.hidx = -1
	if i != last {
		t.heapDown(i)
		t.heapUp(i)
	}
}

// setWake (re)schedules c's timer at w.
func (c *econn) setWake(w int64) {
	t := c.t
	c.wake = w
	if c.hidx < 0 {
		c.hidx = len(t.heap)
		t.heap = append(t.heap, c)
		t.heapUp(c.hidx)
		return
	}
	t.heapDown(c.hidx)
	t.heapUp(c.hidx)
}

// Raw read and write: the sockets are non-blocking, so these never block
// and need not tell the scheduler they are in a system call.

func rawRead(fd int, p []byte) (int, unix.Errno) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

func rawWrite(fd int, p []byte) (int, unix.Errno) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

func (c *econn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.t.cfg.Network, Addr: c.t.raddr, Err: err}
}

// onTimer runs when c's wake time has come; c is no longer in the heap.
func (c *econn) onTimer(now int64) {
	switch c.state {
	case csIdle:
		c.connect(now)
	case csConnecting:
		if now-c.x.connAt >= int64(c.t.cfg.ConnectTimeout) {
			c.closeFd()
			c.connectFailed(now, c.opError("dial", os.ErrDeadlineExceeded))
			return
		}
		c.setWake(c.x.connAt + int64(c.t.cfg.ConnectTimeout))
	case csOpen:
		if c.x.overdue(now) {
			c.fail(now, c.opError("read", os.ErrDeadlineExceeded))
			return
		}
		c.settle(now)
	}
}

// connect opens a socket and starts a non-blocking connect, unless c has
// nothing left to send (then it is done) or, with short connections in an
// open loop, its next request is not yet due.
func (c *econn) connect(now int64) {
	cfg := c.t.cfg
	if !c.x.more(now) {
		c.setDone(now)
		return
	}
	if due := c.x.connectDue(); due > now {
		c.setWake(min(due, c.t.r.end))
		return
	}
	t := c.t
	fd, err := unix.Socket(t.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.connectFailed(now, c.opError("dial", os.NewSyscallError("socket", err)))
		return
	}
	if t.tcp {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	c.fd = fd
	c.gen++
	c.x.connecting(now)
	err = unix.Connect(fd, t.sa)
	switch err {
	case nil:
		if !c.register(unix.EPOLLIN) {
			return
		}
		c.connected(t.now())
	case unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
		if !c.register(unix.EPOLLOUT) {
			return
		}
		c.state = csConnecting
		c.setWake(now + int64(cfg.ConnectTimeout))
	default:
		c.closeFd()
		c.connectFailed(t.now(), c.opError("dial", os.NewSyscallError("connect", err)))
	}
}

func (c *econn) register(evs uint32) bool {
	ev := unix.EpollEvent{Events: evs, Fd: c.idx, Pad: c.gen}
	if err := unix.EpollCtl(c.t.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		c.closeFd()
		c.connectFailed(c.t.now(), c.opError("dial", os.NewSyscallError("epoll_ctl", err)))
		return false
	}
	c.evs = evs
	return true
}

// interest changes the events c waits for.
func (c *econn) interest(evs uint32) {
	if evs == c.evs {
		return
	}
	ev := unix.EpollEvent{Events: evs, Fd: c.idx, Pad: c.gen}
	if unix.EpollCtl(c.t.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev) == nil {
		c.evs = evs
	}
}

// connectFailed counts a failed connect at t (see exchange.connectFailed)
// and retries after a back-off.
func (c *econn) connectFailed(t int64, err error) {
	c.state = csIdle
	c.setWake(c.x.connectFailed(t, err))
}

func (c *econn) connected(now int64) {
	c.state = csOpen
	c.x.connected(now)
	c.settle(now)
}

// closeFd closes the socket (which also leaves the epoll set) and forgets
// everything about the exchange on it.
func (c *econn) closeFd() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	c.gen++
	c.evs = 0
	c.x.reset()
	c.state = csIdle
}

// reopen closes the connection and has c connect anew at once.
func (c *econn) reopen(now int64) {
	c.closeFd()
	c.setWake(now)
}

// setDone ends c at now: what it leaves is counted (see exchange.abandon)
// and it is closed for the rest of the run.
func (c *econn) setDone(now int64) {
	c.x.abandon(now)
	c.closeFd()
	c.state = csDone
	c.t.heapRemove(c)
	c.t.active--
}

// fail counts the failure err at now (see exchange.fail) and reconnects.
func (c *econn) fail(now int64, err error) {
	c.x.fail(now, err)
	c.reopen(now)
}

// settle sends what is due, finishes c if it has nothing in flight and
// nothing left to send, and schedules its next wake-up.
func (c *econn) settle(now int64) {
	if !c.fill(now) {
		return
	}
	if c.x.n == 0 && !c.x.closing && !c.x.more(now) {
		c.setDone(now)
		return
	}
	c.schedule(now)
}

// fill queues requests while the pipeline has room and (in an open loop)
// requests are due, then sends everything queued. It returns false if the
// connection failed.
func (c *econn) fill(now int64) bool {
	c.x.queue(now)
	return c.flush(now)
}

// flush writes what is queued until it is all sent or the socket's buffer
// is full, in which case c waits for EPOLLOUT too.
func (c *econn) flush(now int64) bool {
	for p := c.x.owed(); len(p) > 0; p = c.x.owed() {
		n, e := rawWrite(c.fd, p)
		switch e {
		case 0:
			c.x.wrote(n)
			c.t.bytesOut += int64(n)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.interest(unix.EPOLLIN | unix.EPOLLOUT)
			return true
		}
		c.fail(now, c.opError("write", os.NewSyscallError("write", e)))
		return false
	}
	c.interest(unix.EPOLLIN)
	return true
}

// schedule sets c's wake time for its open connection within the exchange's
// window: the head request's (or the greeting's) timeout, or the next due
// time if that comes first.
func (c *econn) schedule(now int64) {
	lo, hi := c.x.window(now)
	if lo == maxInt64 {
		c.t.heapRemove(c)
		return
	}
	if c.hidx >= 0 && c.wake >= lo && c.wake <= hi {
		return
	}
	c.setWake(hi)
}

func (c *econn) onEvent(evs uint32) {
	t := c.t
	switch c.state {
	case csConnecting:
		soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		now := t.now()
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			c.closeFd()
			c.connectFailed(now, c.opError("dial", os.NewSyscallError("connect", err)))
			return
		}
		c.interest(unix.EPOLLIN)
		c.connected(now)
	case csOpen:
		if evs&unix.EPOLLOUT != 0 && len(c.x.owed()) > 0 {
			if !c.flush(t.now()) {
				return
			}
		}
		if evs&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
			c.read()
		}
	}
}

// read reads once and hands what arrived to the exchange.
func (c *econn) read() {
	t := c.t
	n, e := rawRead(c.fd, c.x.recvBuf())
	now := t.now()
	var err error
	switch e {
	case 0:
		if n == 0 {
			err = io.EOF
		}
	case unix.EAGAIN, unix.EINTR:
		return
	default:
		err = c.opError("read", os.NewSyscallError("read", e))
	}
	o := c.x.received(now, n, err)
	if o.next != runOver {
		t.bytesIn += int64(n) // bytes read after the end are not counted
	}
	c.after(now, o)
}

// after does what the exchange asks once it has handled an event at now.
func (c *econn) after(now int64, o outcome) {
	switch o.next {
	case goOn:
		c.settle(now)
	case hangUp:
		// What is owed to a server that ended the exchange is sent best
		// effort: no request is left to fail.
		if p := c.x.owed(); len(p) > 0 {
			if n, e := rawWrite(c.fd, p); e == 0 {
				c.t.bytesOut += int64(n)
			}
		}
		c.reopen(now)
	case failed:
		c.reopen(now)
	case runOver:
		c.setDone(now)
	}
}
