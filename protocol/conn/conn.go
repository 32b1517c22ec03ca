package conn

import (
	"bytes"
	"errors"
	"time"

	"github.com/socklab/socklab/protocol"
)

// DrainTimeout bounds the lingering close in time: after its FIN, a
// connection reads and discards what the peer still sends for at most this
// long, so that unread input does not turn the close into a reset that
// destroys the reply (net/http's closeWriteAndWait does the same).
const DrainTimeout = time.Second

// DrainLimit bounds the lingering close in bytes: a peer that keeps sending
// after the FIN is cut off once this much has been discarded.
const DrainLimit = 4 << 20

// moreBudget bounds the wake-ups for More output per event, so that a fast
// reader of a large reply cannot keep a reactor from its other connections.
const moreBudget = 64

// ErrRequestTimeout ends a connection whose request (its head: a command
// line, an HTTP head) did not arrive whole within Options.RequestTimeout of
// its first byte.
var ErrRequestTimeout = errors.New("request timeout: a request did not arrive whole in time")

// ErrIdleTimeout ends a connection on which no byte moved for
// Options.IdleTimeout while no request was arriving: a client that sends
// nothing, stalls an upload, or does not read what it is owed.
var ErrIdleTimeout = errors.New("idle timeout: no byte moved in time")

// Options selects how a Conn makes its session calls and how long it waits
// for its peer.
type Options struct {
	// RequestTimeout, if not zero, bounds the time from the first byte of a
	// request to its end, as net/http's ReadHeaderTimeout does: a session
	// reports a request under way with protocol.Step.Partial. A request
	// that takes longer ends the connection with ErrRequestTimeout.
	RequestTimeout time.Duration
	// IdleTimeout, if not zero, bounds the time no byte moves while no
	// request is under way: a peer that sends nothing while the session
	// awaits it, does not read what it is owed, or stalls an upload. It
	// does not run while the session is at work (a wake-up due, More
	// output with room to write it, a Call in flight). A connection idle
	// longer ends with ErrIdleTimeout.
	IdleTimeout time.Duration
	// Deferred makes the Conn hand every session call to the driver as a
	// Call to run off the driver's goroutine (the reactor-pool model)
	// instead of making it within the event. At most one call is in
	// flight; events that arrive meanwhile are queued in order, and the
	// queued input counts toward protocol.HighWater.
	//
	// Input waits in the queue while LowWater bytes or more are owed, and
	// the Conn reads ahead by one read at most: see the package
	// documentation.
	Deferred bool
}

// Action is what the driver does after an event, in the order of the
// fields (see the package documentation).
type Action struct {
	// Call, if not nil, is a session call to run off the driver's
	// goroutine, then report with Done (Deferred Conns only).
	Call *Call
	// Out is output to write now. It is the Conn's buffer: valid until the
	// next call on the Conn. Report what was written with Wrote.
	Out []byte
	// FIN asks to shut down the write side now, then report FINSent.
	FIN bool
	// Close asks to close the socket now: the connection is over.
	Close bool
	// WantRead asks to watch for readability (a blocking driver: to read).
	WantRead bool
	// WantWrite asks to watch for writability, then call Writable.
	WantWrite bool
	// WakeAt, if not zero, is when to call Timer.
	WakeAt time.Time
}

type state uint8

const (
	stateOpen     state = iota
	stateFIN            // FIN asked; FINSent not yet reported
	stateDraining       // FIN sent; discarding input until EOF or a bound
	stateClosed
)

// kind is a session call.
type kind uint8

const (
	callOpen  kind = iota
	callData       // Data
	callEOF        // EOF
	callMore       // Wake because More was set and the buffer drained
	callTimer      // Wake because WakeAt passed
)

// Conn is the server side of one stream connection, without the I/O. Make
// it with New; a driver calls its methods from one goroutine at a time.
type Conn struct {
	sess     protocol.Session
	rel      protocol.Releaser // sess, if it holds resources
	deferred bool

	out    bytes.Buffer
	st     protocol.Step // the session's steps so far, merged
	state  state
	eof    bool // the peer half-closed
	err    error
	budget int // More wake-ups left in this event

	drained    int
	drainUntil time.Time

	// The timeouts: reqTimeout and idleTimeout from Options; reqStart, the
	// arrival of the first byte of the request under way (zero: none);
	// last, when a byte last moved; guardAt, the wake-up armed for them.
	// guardAt moves only when it fires (or earlier, when a request
	// starts), so that a busy connection does not re-arm a timer per
	// event: expire then finds the deadlines that really hold.
	reqTimeout, idleTimeout time.Duration
	reqStart, last, guardAt time.Time

	// Deferred calls: the one in flight, the events queued behind it.
	call    Call
	busy    bool // call is in flight
	handOut bool // call is in flight but not yet handed to the driver
	queue   []pending
	queued  int  // bytes in queue
	moreQ   bool // a More wake-up is queued or in flight
	owed    bool // the release waits for the call in flight
}

type pending struct {
	kind kind
	data []byte
	at   time.Time // when the event happened
}

// New returns the core of a new connection served by session s.
func New(s protocol.Session, o Options) *Conn {
	k := &Conn{sess: s, deferred: o.Deferred, reqTimeout: max(o.RequestTimeout, 0), idleTimeout: max(o.IdleTimeout, 0)}
	k.rel, _ = s.(protocol.Releaser)
	k.call.sess = s
	return k
}

// Open starts the session. Call it once, before any other event.
func (k *Conn) Open(now time.Time) Action {
	k.budget = moreBudget
	k.last = now
	if k.idleTimeout > 0 {
		k.guardAt = now.Add(k.idleTimeout)
	}
	k.invoke(callOpen, nil, now)
	return k.next(now)
}

// Received handles bytes p that a read returned; p is not kept. While
// draining they are discarded; after the session asked to close they are
// ignored, since a session gets no input after its Close.
func (k *Conn) Received(p []byte, now time.Time) Action {
	switch k.state {
	case stateOpen:
		if k.eof || k.st.Close {
			break
		}
		k.budget = moreBudget
		k.last = now
		k.invoke(callData, p, now)
		return k.next(now)
	case stateDraining:
		if k.drained += len(p); k.drained >= DrainLimit {
			return k.close()
		}
	}
	return k.action()
}

// EOF handles the peer's half-close: a read returned 0. While draining, it
// ends the drain.
func (k *Conn) EOF(now time.Time) Action {
	switch k.state {
	case stateOpen:
		if k.eof {
			break
		}
		k.eof = true
		k.last = now
		k.budget = moreBudget
		if !k.st.Close {
			k.invoke(callEOF, nil, now)
		}
		return k.next(now)
	case stateDraining:
		return k.close()
	}
	return k.action()
}

// Writable handles a socket that can take bytes: it returns the output
// pending, waking a session with More output for some if the buffer is
// below protocol.LowWater.
func (k *Conn) Writable(now time.Time) Action {
	if k.state != stateOpen {
		return k.action()
	}
	k.budget = moreBudget
	return k.next(now)
}

// Wrote consumes the n bytes of the last Out that were written; 0 ≤ n ≤
// len(Out). The Action it returns holds the rest, if any, and output a
// session with More has produced meanwhile.
func (k *Conn) Wrote(n int, now time.Time) Action {
	if n < 0 || n > k.out.Len() {
		panic("conn: Wrote reports bytes that Out did not hold")
	}
	if n > 0 {
		k.last = now
	}
	if k.out.Next(n); k.out.Len() == 0 {
		// Reset now, not at the next Write: a session that appends to
		// out.AvailableBuffer then gets the whole buffer, not its tail.
		k.out.Reset()
	}
	return k.next(now)
}

// FINSent handles the shutdown of the write side that the last Action
// asked for, done at now: the drain begins, or the connection closes if
// the peer has half-closed already.
func (k *Conn) FINSent(now time.Time) Action {
	if k.state != stateFIN {
		return k.action()
	}
	if k.eof {
		return k.close()
	}
	k.state = stateDraining
	k.drainUntil = now.Add(DrainTimeout)
	return k.action()
}

// Timer handles the passing of the last Action's WakeAt: a timeout, the
// session's wake-up, or the end of the drain. A call before WakeAt is
// spurious and changes nothing.
func (k *Conn) Timer(now time.Time) Action {
	switch k.state {
	case stateOpen:
		if !k.guardAt.IsZero() && !now.Before(k.guardAt) {
			if err := k.expire(now); err != nil {
				k.err = err
				return k.close()
			}
		}
		if k.st.Close || k.st.WakeAt.IsZero() || now.Before(k.st.WakeAt) {
			break
		}
		k.st.WakeAt = time.Time{}
		k.budget = moreBudget
		k.invoke(callTimer, nil, now)
		return k.next(now)
	case stateDraining:
		if !now.Before(k.drainUntil) {
			return k.close()
		}
	}
	return k.action()
}

// expire handles the passing of guardAt at now: it returns the timeout
// that has passed, if one has, or arms guardAt for the next deadline that
// holds (or for a fresh look after IdleTimeout if none does).
func (k *Conn) expire(now time.Time) error {
	var reqDue, idleDue time.Time
	if k.reqTimeout > 0 && k.st.Partial && !k.reqStart.IsZero() && !k.st.Close && !k.eof {
		reqDue = k.reqStart.Add(k.reqTimeout)
	}
	if k.idleTimeout > 0 {
		switch {
		case k.out.Len() > 0:
			// A reply the peer does not take, closing or not, whatever
			// waits behind it.
			idleDue = k.last.Add(k.idleTimeout)
		case !k.busy && len(k.queue) == 0 && !k.st.Partial && !k.st.Close && !k.st.More && k.st.WakeAt.IsZero():
			// The session awaits the peer, which sends nothing.
			idleDue = k.last.Add(k.idleTimeout)
		}
	}
	switch {
	case !reqDue.IsZero() && !now.Before(reqDue):
		return ErrRequestTimeout
	case !idleDue.IsZero() && !now.Before(idleDue):
		return ErrIdleTimeout
	}
	k.guardAt = earliest(reqDue, idleDue)
	if k.guardAt.IsZero() && k.idleTimeout > 0 {
		k.guardAt = now.Add(k.idleTimeout)
	}
	return nil
}

// earliest returns the earlier of a and b, a zero time being none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// Fail ends the connection on an I/O error (a reset, a broken pipe, a
// failed shutdown or poller call): the Action is Close. Err reports err
// unless the drain had begun.
func (k *Conn) Fail(err error) Action {
	if k.state == stateClosed {
		return Action{}
	}
	if k.state != stateDraining {
		k.err = err
	}
	return k.close()
}

// Abort ends the connection now, as a server shutdown does: the Action is
// Close. It is harmless on a connection that has ended, so a driver may
// defer it.
func (k *Conn) Abort() Action {
	if k.state == stateClosed {
		return Action{}
	}
	return k.close()
}

// Err returns the error that ended the connection: the one given to Fail
// before the drain began, ErrRequestTimeout or ErrIdleTimeout, or nil.
func (k *Conn) Err() error { return k.err }

// Done handles the return of the Call in flight. After Close it only
// releases the session, if that was waiting for the call.
func (k *Conn) Done() Action {
	if !k.busy {
		return k.action()
	}
	k.busy = false
	c := &k.call
	kind, st := c.kind, c.st
	if kind == callMore {
		k.moreQ = false
	}
	if k.state == stateClosed {
		c.reset()
		if k.owed {
			k.owed = false
			k.release()
		}
		return Action{}
	}
	at, produced := c.at, c.out.Len() > 0
	switch {
	case k.out.Len() == 0:
		// Nothing owed: take the call's buffer as it is, no copy.
		k.out, c.out = c.out, k.out
	case k.out.Available() < c.out.Len():
		// Grow to the size needed, not to twice the old capacity as
		// bytes.Buffer would: the connection keeps what it allocates.
		var b bytes.Buffer
		b.Grow(k.out.Len() + c.out.Len())
		b.Write(k.out.Bytes())
		b.Write(c.out.Bytes())
		k.out = b
	default:
		k.out.Write(c.out.Bytes())
	}
	c.reset()
	k.apply(kind, st, at, produced)
	k.kick()
	k.budget = moreBudget
	// A Deferred Conn makes no session call itself, so it needs no clock.
	return k.next(time.Time{})
}

// invoke makes a session call now, or queues it for a Deferred Conn.
func (k *Conn) invoke(kind kind, data []byte, now time.Time) {
	if !k.deferred {
		before := k.out.Len()
		st := call(k.sess, kind, data, now, &k.out)
		k.apply(kind, st, now, k.out.Len() > before)
		return
	}
	if data != nil {
		data = append([]byte(nil), data...) // the driver reuses its buffer
	}
	k.queue = append(k.queue, pending{kind: kind, data: data, at: now})
	k.queued += len(data)
	k.kick()
}

// kick puts the next queued call in flight if none is. Input waits in the
// queue while the output owed is at LowWater or more: a call's session sees
// only the call's own buffer, so it can keep its replies under HighWater
// (see protocol.HighWater) only if the connection's buffer is low when the
// call starts.
func (k *Conn) kick() {
	for !k.busy && len(k.queue) > 0 && k.state != stateClosed {
		if k.queue[0].kind == callData && k.out.Len() >= protocol.LowWater {
			return
		}
		p := k.queue[0]
		k.queue[0] = pending{}
		k.queue = k.queue[1:]
		k.queued -= len(p.data)
		if k.st.Close && (p.kind == callData || p.kind == callEOF) {
			continue // after its Close a session gets no more input
		}
		k.busy, k.handOut = true, true
		k.call.kind, k.call.data, k.call.at = p.kind, p.data, p.at
	}
}

// apply merges the step of a call for an event at, which produced output
// or not, into the connection's, and keeps the request timer: a request
// under way (Partial) started at the first event that left one, or at the
// last that answered something and left one, since that answer ended a
// request and the rest of the input began the next.
func (k *Conn) apply(kind kind, st protocol.Step, at time.Time, produced bool) {
	switch {
	case !st.Partial:
		k.reqStart = time.Time{}
	case k.reqStart.IsZero() || produced:
		k.reqStart = at
		if k.reqTimeout > 0 {
			k.guardAt = earliest(k.guardAt, at.Add(k.reqTimeout))
		}
	}
	if kind != callOpen {
		// Once asked, a close stays asked.
		st.Close = st.Close || k.st.Close
		// A poem line still due stays due if the peer sent bytes
		// meanwhile; only the timer's own wake-up replaces it.
		if kind != callTimer && st.WakeAt.IsZero() {
			st.WakeAt = k.st.WakeAt
		}
	}
	k.st = st
}

// next asks a session with More for output if the buffer is low, starts
// the orderly close once nothing more is owed, and says what comes next.
func (k *Conn) next(now time.Time) Action {
	if k.state != stateOpen {
		return k.action()
	}
	if k.deferred {
		k.kick() // input held back by the output owed may go now
	}
	if k.st.More && k.out.Len() < protocol.LowWater {
		switch {
		case k.deferred:
			if !k.moreQ {
				k.moreQ = true
				k.invoke(callMore, nil, now)
			}
		case k.budget > 0:
			k.budget--
			k.invoke(callMore, nil, now)
		}
	}
	idle := !k.busy && len(k.queue) == 0 && k.out.Len() == 0 && !k.st.More
	if idle && (k.st.Close || k.eof && k.st.WakeAt.IsZero()) {
		k.state = stateFIN
	}
	return k.action()
}

// action says what the driver does in the connection's present state.
func (k *Conn) action() Action {
	var a Action
	switch k.state {
	case stateOpen:
		if k.handOut {
			a.Call, k.handOut = &k.call, false
		}
		if k.out.Len() > 0 {
			a.Out = k.out.Bytes()
		}
		// A Deferred Conn queues its More wake-ups instead of waiting for
		// writability.
		a.WantWrite = k.out.Len() > 0 || k.st.More && !k.deferred
		a.WakeAt = k.guardAt
		if !k.st.Close {
			// A session with More output holds input it has not
			// answered yet, or is sending a large reply: what the peer
			// sends meanwhile waits in the kernel, not here.
			// A Deferred Conn reads ahead of its call in flight, but
			// by one read or so: queued input is memory too.
			a.WantRead = !k.eof && !k.st.More && k.out.Len()+k.queued < protocol.HighWater && k.queued < protocol.LowWater
			a.WakeAt = earliest(k.st.WakeAt, k.guardAt)
		}
	case stateFIN:
		a.FIN = true
	case stateDraining:
		a.WantRead, a.WakeAt = true, k.drainUntil
	}
	return a
}

// close ends the connection and releases the session, or owes the release
// to the Done of the call in flight, which still uses the session.
func (k *Conn) close() Action {
	k.state = stateClosed
	k.queue, k.queued, k.handOut = nil, 0, false
	if k.busy {
		k.owed = true
	} else {
		k.release()
	}
	return Action{Close: true}
}

// release calls the session's Release, if it has one. It runs once: at
// the close, or at the Done that the close waited for.
func (k *Conn) release() {
	if k.rel != nil {
		k.rel.Release()
	}
}

// Call is a session call that a Deferred Conn hands to its driver, to be
// made off the driver's goroutine. A Conn has one Call, reused.
type Call struct {
	sess protocol.Session
	kind kind
	data []byte
	at   time.Time // when the event happened
	out  bytes.Buffer
	st   protocol.Step
}

// Run makes the call at now. It touches only the session and the Call, so
// it may run on any goroutine while the driver serves its other
// connections; the driver then reports Done on its own goroutine.
func (c *Call) Run(now time.Time) {
	c.st = call(c.sess, c.kind, c.data, now, &c.out)
}

func (c *Call) reset() {
	c.data, c.st = nil, protocol.Step{}
	c.out.Reset()
	if c.out.Cap() > protocol.LowWater {
		// A large reply's buffer is not kept per connection while idle.
		c.out = bytes.Buffer{}
	}
}

// call makes one session call, appending output to out.
func call(s protocol.Session, kind kind, data []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	switch kind {
	case callOpen:
		return s.Open(now, out)
	case callData:
		return s.Data(data, now, out)
	case callEOF:
		return s.EOF(now, out)
	}
	return s.Wake(now, out)
}
