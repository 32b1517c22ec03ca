package reactor

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// waker is an eventfd that other goroutines write to wake a poller's wait.
// Every poller watches it for reading and drains it when it fires.
type waker struct{ fd int }

func newWaker() (waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return waker{fd: -1}, fmt.Errorf("eventfd: %w", err)
	}
	return waker{fd: fd}, nil
}

// Wake adds one to the eventfd counter. EAGAIN means the counter is already
// saturated, so a wake-up is pending anyway.
func (w waker) Wake() error {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	for {
		_, err := unix.Write(w.fd, b[:])
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return fmt.Errorf("wake: %w", err)
	}
}

// drain resets the counter after a wake-up.
func (w waker) drain() {
	var b [8]byte
	for range 4 {
		if _, err := unix.Read(w.fd, b[:]); err != unix.EINTR {
			return
		}
	}
}

func (w waker) close() error {
	if w.fd < 0 {
		return nil
	}
	return unix.Close(w.fd)
}
