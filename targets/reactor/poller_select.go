package reactor

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// fdSetSize is FD_SETSIZE: the bits in select(2)'s fd_set.
const fdSetSize = 1024

// Select is a select(2) poller. It keeps the read and write interest sets
// and copies them for each call, since select overwrites its arguments with
// the ready sets. A descriptor of FD_SETSIZE or more cannot be watched: Add
// refuses it with ErrTooManyFds instead of writing past the set (which is
// what an unchecked FD_SET does in C).
type Select struct {
	rset, wset unix.FdSet
	watched    []int // registered descriptors, to scan after a wait
	pos        map[int]int
	maxfd      int
	w          waker
}

// NewSelect returns a select poller.
func NewSelect() (*Select, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	p := &Select{pos: make(map[int]int), w: w, maxfd: -1}
	if err := p.Add(w.fd, Readable); err != nil {
		w.close()
		return nil, err
	}
	return p, nil
}

func (p *Select) set(fd int, ev Events) {
	p.rset.Clear(fd)
	p.wset.Clear(fd)
	if ev&Readable != 0 {
		p.rset.Set(fd)
	}
	if ev&Writable != 0 {
		p.wset.Set(fd)
	}
}

// Add implements Poller.
func (p *Select) Add(fd int, ev Events) error {
	if fd < 0 || fd >= fdSetSize {
		return fmt.Errorf("select add %d: %w (FD_SETSIZE is %d)", fd, ErrTooManyFds, fdSetSize)
	}
	if _, dup := p.pos[fd]; dup {
		return fmt.Errorf("select add %d: %w", fd, unix.EEXIST)
	}
	p.pos[fd] = len(p.watched)
	p.watched = append(p.watched, fd)
	p.maxfd = max(p.maxfd, fd)
	p.set(fd, ev)
	return nil
}

// Modify implements Poller.
func (p *Select) Modify(fd int, ev Events) error {
	if _, ok := p.pos[fd]; !ok {
		return fmt.Errorf("select modify %d: %w", fd, unix.ENOENT)
	}
	p.set(fd, ev)
	return nil
}

// Remove implements Poller.
func (p *Select) Remove(fd int) error {
	i, ok := p.pos[fd]
	if !ok {
		return fmt.Errorf("select remove %d: %w", fd, unix.ENOENT)
	}
	p.set(fd, 0)
	last := len(p.watched) - 1
	p.watched[i] = p.watched[last]
	p.pos[p.watched[i]] = i
	p.watched = p.watched[:last]
	delete(p.pos, fd)
	if fd == p.maxfd {
		p.maxfd = -1
		for _, f := range p.watched {
			p.maxfd = max(p.maxfd, f)
		}
	}
	return nil
}

// Wait implements Poller.
func (p *Select) Wait(timeout time.Duration, evs []Event) ([]Event, error) {
	evs = evs[:0]
	r, w := p.rset, p.wset
	var tv *unix.Timeval
	if timeout >= 0 {
		t := unix.NsecToTimeval(int64(timeout + time.Microsecond - 1))
		tv = &t
	}
	n, err := unix.Select(p.maxfd+1, &r, &w, nil, tv)
	if err == unix.EINTR {
		return evs, nil
	}
	if err != nil {
		return evs, fmt.Errorf("select: %w", err)
	}
	for _, fd := range p.watched {
		if n == 0 {
			break
		}
		var ev Events
		if r.IsSet(fd) {
			ev |= Readable
			n--
		}
		if w.IsSet(fd) {
			ev |= Writable
			n--
		}
		if ev == 0 {
			continue
		}
		if fd == p.w.fd {
			p.w.drain()
			continue
		}
		evs = append(evs, Event{Fd: fd, Events: ev})
	}
	return evs, nil
}

// Wake implements Poller.
func (p *Select) Wake() error { return p.w.Wake() }

// Close implements Poller.
func (p *Select) Close() error { return p.w.close() }
