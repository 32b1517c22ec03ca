// Package dispatcher is Python's asyncore in Go: a Dispatcher interface
// (Readable, Writable, HandleRead, HandleWrite, HandleAccept, HandleConnect,
// HandleClose), a socket Map, a Loop that rebuilds each channel's interest
// from Readable() and Writable() on every turn exactly as asyncore.loop
// does, and an embeddable Base with Send, Recv, Accept and Close, over the
// reactor's Poller (epoll).
//
// The model's server is the tutorial's EchoServer/EchoHandler pair, line by
// line: Server is the listening dispatcher whose HandleAccept makes a
// Handler per connection; Handler is Readable while it can take input,
// Writable while it has output, and drives a protocol.Session from
// HandleRead and HandleWrite through the connection core every model
// shares (package protocol/conn). Unlike the tutorial's handler it keeps
// what a partial send left (its buffer is sliced by what send returned),
// stops reading while its buffer is full, and closes in order.
package dispatcher

import (
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/targets/reactor"
)

// Dispatcher is asyncore.dispatcher's event interface. Embed *Base (or
// Base) to get the defaults and the socket methods.
type Dispatcher interface {
	// Fd returns the channel's descriptor.
	Fd() int
	// Readable reports whether the loop should watch for reading this turn.
	Readable() bool
	// Writable reports whether the loop should watch for writing this turn.
	Writable() bool
	// HandleRead is called when a recv will not block.
	HandleRead()
	// HandleWrite is called when a send will not block.
	HandleWrite()
	// HandleAccept is called on a listening channel when accept will not
	// block.
	HandleAccept()
	// HandleConnect is called on the first read or write event of a
	// channel that is not yet connected.
	HandleConnect()
	// HandleClose is called when the peer closed or the socket failed.
	HandleClose()
}

// Timed is an optional Dispatcher extension: asyncore has only the loop's
// timeout, but a protocol with timers (poetry's line delay) needs a wake-up
// at a time. The loop's wait is bounded by the earliest WakeAt, and
// HandleWake is called once it has passed.
type Timed interface {
	// WakeAt returns when the channel wants HandleWake, or the zero time.
	WakeAt() time.Time
	HandleWake()
}

// states lets the loop see a channel's asyncore flags (accepting,
// connected); only Base implements it.
type states interface{ base() *Base }

// Loop is asyncore.loop with its socket map.
type Loop struct {
	// Map is asyncore's socket_map: every channel by descriptor.
	Map     map[int]Dispatcher
	p       reactor.Poller
	watched map[int]reactor.Events
	evs     []reactor.Event
	quit    atomic.Bool
	log     *slog.Logger
	// Refused counts channels the poller could not watch.
	Refused atomic.Uint64
}

// NewLoop returns a loop over p with an empty map.
func NewLoop(p reactor.Poller, log *slog.Logger) *Loop {
	return &Loop{Map: make(map[int]Dispatcher), p: p, watched: make(map[int]reactor.Events), log: log}
}

// Run turns the loop until the map is empty or Stop is called.
func (l *Loop) Run() error {
	for !l.quit.Load() && len(l.Map) > 0 {
		if err := l.Poll(); err != nil {
			return err
		}
	}
	return nil
}

// Stop makes Run return after the current turn. It is safe for concurrent
// use.
func (l *Loop) Stop() {
	l.quit.Store(true)
	l.p.Wake()
}

// Poll is one turn of the loop (asyncore.poll): ask every channel whether
// it is readable and writable, wait, and dispatch the events.
func (l *Loop) Poll() error {
	var next time.Time
	for fd, d := range l.Map {
		var ev reactor.Events
		if d.Readable() {
			ev |= reactor.Readable
		}
		if d.Writable() {
			ev |= reactor.Writable
		}
		old, known := l.watched[fd]
		switch {
		case !known:
			if err := l.p.Add(fd, ev); err != nil {
				l.Refused.Add(1)
				l.log.Warn("channel refused: the poller cannot watch it", "fd", fd, "err", err)
				delete(l.Map, fd)
				d.HandleClose()
				continue
			}
			l.watched[fd] = ev
		case old != ev:
			l.p.Modify(fd, ev)
			l.watched[fd] = ev
		}
		if t, ok := d.(Timed); ok {
			if w := t.WakeAt(); !w.IsZero() && (next.IsZero() || w.Before(next)) {
				next = w
			}
		}
	}
	timeout := time.Duration(-1)
	if !next.IsZero() {
		timeout = max(time.Until(next), 0)
	}
	evs, err := l.p.Wait(timeout, l.evs)
	l.evs = evs
	if err != nil {
		return err
	}
	for _, e := range evs {
		d := l.Map[e.Fd]
		if d == nil {
			continue
		}
		if e.Events&reactor.Readable != 0 {
			readEvent(d)
		}
		if e.Events&reactor.Writable != 0 && l.Map[e.Fd] == d {
			writeEvent(d)
		}
	}
	if !next.IsZero() && !time.Now().Before(next) {
		now := time.Now()
		for _, d := range l.Map {
			if t, ok := d.(Timed); ok {
				if w := t.WakeAt(); !w.IsZero() && !w.After(now) {
					t.HandleWake()
				}
			}
		}
	}
	return nil
}

// readEvent is asyncore's handle_read_event.
func readEvent(d Dispatcher) {
	if s, ok := d.(states); ok {
		b := s.base()
		switch {
		case b.accepting:
			d.HandleAccept()
			return
		case !b.connected:
			b.connected = true
			d.HandleConnect()
		}
	}
	d.HandleRead()
}

// writeEvent is asyncore's handle_write_event.
func writeEvent(d Dispatcher) {
	if s, ok := d.(states); ok {
		b := s.base()
		if b.accepting {
			return
		}
		if !b.connected {
			b.connected = true
			d.HandleConnect()
		}
	}
	d.HandleWrite()
}

// Base is asyncore.dispatcher's socket side, to embed: the default event
// methods, and Send, Recv, Accept and Close on a non-blocking descriptor.
type Base struct {
	fd        int
	loop      *Loop
	accepting bool
	connected bool
}

func (b *Base) base() *Base { return b }

// Init attaches descriptor fd to the loop's map as channel d (asyncore's
// dispatcher.__init__(sock, map)). connected says fd is an accepted
// connection.
func (b *Base) Init(l *Loop, fd int, d Dispatcher, connected bool) {
	b.fd, b.loop, b.connected = fd, l, connected
	l.Map[fd] = d
}

// Listen marks the channel as a listening socket: its read events are
// accepts.
func (b *Base) Listen() { b.accepting = true }

// Fd implements Dispatcher.
func (b *Base) Fd() int { return b.fd }

// Readable implements Dispatcher: by default, always.
func (b *Base) Readable() bool { return true }

// Writable implements Dispatcher: by default, always.
func (b *Base) Writable() bool { return true }

// HandleRead implements Dispatcher with nothing.
func (b *Base) HandleRead() {}

// HandleWrite implements Dispatcher with nothing.
func (b *Base) HandleWrite() {}

// HandleAccept implements Dispatcher with nothing.
func (b *Base) HandleAccept() {}

// HandleConnect implements Dispatcher with nothing.
func (b *Base) HandleConnect() {}

// HandleClose implements Dispatcher: close the channel.
func (b *Base) HandleClose() { b.Close() }

// Send sends what it can of p. A full socket buffer is not an error: it
// returns 0 and the caller keeps the rest for the next HandleWrite.
func (b *Base) Send(p []byte) (int, error) {
	for {
		n, err := unix.Write(b.fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EAGAIN:
			return 0, nil
		case unix.EINTR:
			continue
		}
		return 0, err
	}
}

// Recv reads into p. It returns 0 and no error if nothing is there yet, and
// 0 and io.EOF (as asyncore returns b"") when the peer has closed.
func (b *Base) Recv(p []byte) (int, error) {
	for {
		n, err := unix.Read(b.fd, p)
		switch {
		case err == nil && n == 0:
			return 0, errEOF
		case err == nil:
			return n, nil
		case err == unix.EAGAIN:
			return 0, nil
		case err == unix.EINTR:
			continue
		}
		return 0, err
	}
}

// Accept accepts a connection as a non-blocking, close-on-exec descriptor.
// It returns -1 and no error if none is pending (asyncore returns None).
func (b *Base) Accept() (int, error) {
	for {
		fd, _, err := unix.Accept4(b.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			return fd, nil
		case unix.EAGAIN, unix.ECONNABORTED, unix.EPROTO:
			return -1, nil
		case unix.EINTR:
			continue
		}
		return -1, err
	}
}

// Shutdown shuts down the write side: the peer reads EOF after the bytes
// already sent.
func (b *Base) Shutdown() error { return unix.Shutdown(b.fd, unix.SHUT_WR) }

// Close removes the channel from the map and closes its descriptor
// (asyncore's del_channel and close).
func (b *Base) Close() {
	if b.loop == nil {
		return
	}
	l := b.loop
	b.loop = nil
	delete(l.Map, b.fd)
	if _, ok := l.watched[b.fd]; ok {
		l.p.Remove(b.fd)
		delete(l.watched, b.fd)
	}
	unix.Close(b.fd)
}
