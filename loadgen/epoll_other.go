//go:build !linux

package loadgen

import "fmt"

const epollAvailable = false

func (r *runner) newEpollThreads() error {
	return fmt.Errorf("%w: engine epoll: not available on this system", ErrConfig)
}
