package reactor

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Poll is a poll(2) poller. It keeps one pollfd array and an index from
// descriptor to slot, so that Modify is one store and Remove a swap with the
// last slot: the array is never rebuilt, only handed to the kernel.
type Poll struct {
	fds []unix.PollFd
	idx map[int]int
	w   waker
}

// NewPoll returns a poll poller.
func NewPoll() (*Poll, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	p := &Poll{idx: make(map[int]int), w: w}
	p.Add(w.fd, Readable)
	return p, nil
}

func pollBits(ev Events) int16 {
	var b int16
	if ev&Readable != 0 {
		b |= unix.POLLIN | unix.POLLRDHUP
	}
	if ev&Writable != 0 {
		b |= unix.POLLOUT
	}
	return b
}

// Add implements Poller.
func (p *Poll) Add(fd int, ev Events) error {
	if _, dup := p.idx[fd]; dup {
		return fmt.Errorf("poll add %d: %w", fd, unix.EEXIST)
	}
	p.idx[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollBits(ev)})
	return nil
}

// Modify implements Poller.
func (p *Poll) Modify(fd int, ev Events) error {
	i, ok := p.idx[fd]
	if !ok {
		return fmt.Errorf("poll modify %d: %w", fd, unix.ENOENT)
	}
	p.fds[i].Events = pollBits(ev)
	return nil
}

// Remove implements Poller.
func (p *Poll) Remove(fd int) error {
	i, ok := p.idx[fd]
	if !ok {
		return fmt.Errorf("poll remove %d: %w", fd, unix.ENOENT)
	}
	last := len(p.fds) - 1
	p.fds[i] = p.fds[last]
	p.idx[int(p.fds[i].Fd)] = i
	p.fds = p.fds[:last]
	delete(p.idx, fd)
	return nil
}

// Wait implements Poller.
func (p *Poll) Wait(timeout time.Duration, evs []Event) ([]Event, error) {
	evs = evs[:0]
	n, err := unix.Poll(p.fds, timeoutMillis(timeout))
	if err == unix.EINTR {
		return evs, nil
	}
	if err != nil {
		return evs, fmt.Errorf("poll: %w", err)
	}
	for i := 0; i < len(p.fds) && n > 0; i++ {
		re := p.fds[i].Revents
		if re == 0 {
			continue
		}
		n--
		p.fds[i].Revents = 0
		if int(p.fds[i].Fd) == p.w.fd {
			p.w.drain()
			continue
		}
		var ev Events
		if re&(unix.POLLIN|unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			ev |= Readable
		}
		if re&(unix.POLLOUT|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			ev |= Writable
		}
		evs = append(evs, Event{Fd: int(p.fds[i].Fd), Events: ev})
	}
	return evs, nil
}

// Wake implements Poller.
func (p *Poll) Wake() error { return p.w.Wake() }

// Close implements Poller.
func (p *Poll) Close() error { return p.w.close() }
