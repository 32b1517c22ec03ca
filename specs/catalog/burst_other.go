//go:build !linux

package catalog

import (
	"errors"
	"net"
	"time"
)

// synRetransmits guesses from how long the connect took, as TCP_INFO is
// Linux's: the first SYN retransmission comes 1 s after the SYN, the second
// 2 s later.
func synRetransmits(conn net.Conn, took time.Duration) int {
	if _, ok := conn.(*net.TCPConn); !ok {
		return 0
	}
	switch {
	case took >= 3*slowConnect:
		return 2
	case took >= slowConnect:
		return 1
	}
	return 0
}

// openFileLimit is not known here.
func openFileLimit() (int, error) { return 0, errors.New("no descriptor limit known") }
