package reactor

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Epoll is a level-triggered epoll(7) poller: the kernel keeps the interest
// set, so a turn of the loop costs the ready descriptors, not all of them.
type Epoll struct {
	epfd int
	w    waker
	raw  []unix.EpollEvent // reused by every Wait: no allocation per turn
}

// NewEpoll returns an epoll poller.
func NewEpoll() (*Epoll, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &Epoll{epfd: epfd, raw: make([]unix.EpollEvent, 256)}
	if p.w, err = newWaker(); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := p.Add(p.w.fd, Readable); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func epollBits(ev Events) uint32 {
	var b uint32
	if ev&Readable != 0 {
		b |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Writable != 0 {
		b |= unix.EPOLLOUT
	}
	return b
}

// Add implements Poller.
func (p *Epoll) Add(fd int, ev Events) error {
	e := unix.EpollEvent{Events: epollBits(ev), Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &e); err != nil {
		return fmt.Errorf("epoll_ctl add %d: %w", fd, err)
	}
	return nil
}

// Modify implements Poller.
func (p *Epoll) Modify(fd int, ev Events) error {
	e := unix.EpollEvent{Events: epollBits(ev), Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &e); err != nil {
		return fmt.Errorf("epoll_ctl mod %d: %w", fd, err)
	}
	return nil
}

// Remove implements Poller.
func (p *Epoll) Remove(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("epoll_ctl del %d: %w", fd, err)
	}
	return nil
}

// Wait implements Poller.
func (p *Epoll) Wait(timeout time.Duration, evs []Event) ([]Event, error) {
	evs = evs[:0]
	n, err := unix.EpollWait(p.epfd, p.raw, timeoutMillis(timeout))
	if err == unix.EINTR {
		return evs, nil
	}
	if err != nil {
		return evs, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, e := range p.raw[:n] {
		if int(e.Fd) == p.w.fd {
			p.w.drain()
			continue
		}
		var ev Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ev |= Readable
		}
		if e.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ev |= Writable
		}
		evs = append(evs, Event{Fd: int(e.Fd), Events: ev})
	}
	if n == len(p.raw) && n < 4096 {
		// A full batch: take more per call next time.
		p.raw = make([]unix.EpollEvent, 2*n)
	}
	return evs, nil
}

// Wake implements Poller.
func (p *Epoll) Wake() error { return p.w.Wake() }

// Close implements Poller.
func (p *Epoll) Close() error {
	p.w.close()
	return unix.Close(p.epfd)
}
