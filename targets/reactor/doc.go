// Package reactor is socklab's event-driven server core: one single-threaded
// reactor over non-blocking raw sockets, behind a small Poller interface with
// three implementations, select(2), poll(2) and epoll(7). The tutorials teach
// the select, poll and epoll echo servers as variations of one loop, and here
// they are exactly that: the models select, poll and epoll differ only in the
// Poller they hand to the same Loop.
//
// Each connection has an output buffer and the semantics of
// targets.ServeStream turned inside out: partial writes are kept and
// finished when the socket is writable (write interest only while output is
// pending); reading stops while the output holds protocol.HighWater bytes and
// after the peer's EOF; a session's Close is an orderly close (flush, FIN,
// drain for at most targets.DrainTimeout, close); timers (the poetry line
// delay) run from a timer heap bounding the wait. EINTR from the wait is a
// turn of the loop, EAGAIN is "not now", a reset or a broken pipe ends one
// connection, and EMFILE on accept pauses the listener for a back-off delay
// while the connections already accepted are served. An eventfd wakes the
// loop for work handed in from other goroutines (Close, reactor-pool
// results).
//
// The reactor also serves the datagram echo (UDP, unixgram).
package reactor
