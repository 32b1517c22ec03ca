package catalog

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// synRetransmits returns how many times the kernel sent the SYN of conn
// again before its connect completed, which took took: TCP_INFO's count of
// retransmissions, read before anything else is sent. A connect slowed by a
// busy machine is not one that lost its SYN. Other connections count 0.
func synRetransmits(conn net.Conn, _ time.Duration) int {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return 0
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		return 0
	}
	return int(info.Total_retrans)
}

// openFileLimit is how many descriptors this process may open (Go raises
// the soft limit to the hard one at start).
func openFileLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return int(min(rl.Cur, 1<<30)), nil
}
