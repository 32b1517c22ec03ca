//go:build !unix

package wire

import "syscall"

// peek cannot look into the receive queue here: AwaitUnread reports that
// nothing came.
func peek(uintptr) (int, error) { return 0, syscall.ENOTSUP }
