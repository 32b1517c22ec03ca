package wire

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent returns how many bytes written to c the kernel still holds in its
// send queue (SIOCOUTQ): over TCP, bytes the peer has not acknowledged;
// over a Unix socket, bytes the peer has not read.
func unsent(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil {
		return 0, err
	}
	return n, ierr
}
