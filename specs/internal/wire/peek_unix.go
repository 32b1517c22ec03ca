//go:build unix

package wire

import "golang.org/x/sys/unix"

// peek reads one byte of fd's receive queue without taking it, and does
// not block.
func peek(fd uintptr) (int, error) {
	var b [1]byte
	n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return n, err
}
