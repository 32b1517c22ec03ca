package wire

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// AwaitUnread waits, at most wait, until bytes from the server sit unread
// in the kernel's receive queue, and reads none of them (it peeks). It
// reports whether they came; the bytes Conn already buffered do not count.
//
// A client that closes with unread input makes the kernel reset the
// connection (RST over TCP, ECONNRESET at once to a Unix-socket peer), so
// a server learns at once that its reply was abandoned. A client that
// closes before the reply arrived sends FIN instead, and the server learns
// only when its later sends meet the closed socket: a behaviour that is
// about abandoned replies calls this before it closes, so its outcome does
// not depend on how fast the server started answering.
func (c *Conn) AwaitUnread(wait time.Duration) bool {
	sc, ok := c.c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	if err := c.c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return false
	}
	defer func() { _ = c.c.SetReadDeadline(time.Time{}) }()
	var got bool
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if errors.Is(perr, syscall.EAGAIN) || errors.Is(perr, syscall.EINTR) {
			return false // not yet: the poller waits for readability
		}
		got = perr == nil && n > 0
		return true
	})
	return err == nil && got
}
