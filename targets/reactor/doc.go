// Package reactor is socklab's event-driven server core: one single-threaded
// reactor over non-blocking raw sockets, behind a small Poller interface with
// three implementations, select(2), poll(2) and epoll(7). The tutorials teach
// the select, poll and epoll echo servers as variations of one loop, and here
// they are exactly that: the models select, poll and epoll differ only in the
// Poller they hand to the same Loop.
//
// Each connection is driven by the connection core (package protocol/conn),
// as the blocking models' targets.ServeStream is: the core decides what to
// write, when to read, when to wake and how to close, and the loop performs
// it with non-blocking calls. A partial write is reported to the core and
// finished when the socket is writable (write interest only while output is
// pending); reading stops when the core says so (output at
// protocol.HighWater, after the peer's EOF); an orderly close is FIN, a
// bounded drain, then close; timers (the poetry line delay, the drain
// deadline) run from a timer heap bounding the wait. With an Executor (the
// reactor-pool model) the core hands its session calls to the loop, which
// runs them on the executor's workers, one per connection at a time.
//
// EINTR from the wait is a turn of the loop, EAGAIN is "not now", a reset or
// a broken pipe ends one connection, and EMFILE on accept pauses the listener
// for a back-off delay while the connections already accepted are served.
// An eventfd wakes the loop for work handed in from other goroutines (Close,
// reactor-pool results).
//
// The reactor also serves the datagram echo (UDP, unixgram).
package reactor
