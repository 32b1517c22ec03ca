// Package conn is the server side of one stream connection without the I/O:
// the one core that every stream model in package targets drives.
//
// A Conn owns a protocol.Session and everything around it that does not
// depend on how bytes move: the output buffer and its water marks
// (protocol.LowWater, protocol.HighWater), the merging of the session's
// Steps, its wake-ups, the orderly close (FIN, a drain bounded by
// DrainTimeout and DrainLimit, then close) and the session's release. A
// driver (a blocking loop, a reactor, an asyncore dispatcher) tells the
// Conn what happened on its socket and does what the returned Action says,
// with its own system calls. The Conn never blocks, never reads a clock
// (now is always passed in) and allocates nothing per event (but for the
// copy of the input that a Deferred Conn queues).
//
// # Events
//
// Open, once and first; then, in the order they happen on the socket:
//
//	Received(p, now)  a read returned the bytes p
//	EOF(now)          a read returned 0: the peer half-closed
//	Writable(now)     the socket can take bytes (a blocking driver: at once)
//	Wrote(n, now)     n bytes of the last Action's Out were written
//	FINSent(now)      the write side was shut down, as the last Action asked
//	Timer(now)        the last Action's WakeAt has passed: a timeout, a wake-up (early calls are ignored)
//	Fail(err)         an I/O error: a reset, a broken pipe, a failed shutdown
//	Abort()           the server shuts down: the connection ends now
//	Done()            a Call handed out by a Deferred Conn has returned
//
// # Actions
//
// Each event returns everything the driver must do next; it does it in
// this order:
//
//  1. Call: run Call.Run off the driver's goroutine (an executor), then
//     report Done on the driver's goroutine. At most one is in flight.
//  2. Out: write it. Report what the socket took with Wrote and go on with
//     the Action Wrote returns (a partial write is simply a smaller n). If
//     the socket takes nothing now, keep this Action and wait.
//  3. FIN: shut down the write side (shutdown(SHUT_WR)) and report FINSent,
//     or Fail if that failed, and go on with the Action it returns.
//  4. Close: close the socket. The connection is over and the session is
//     released (if a Call is in flight, at its Done). Close is set exactly
//     once; every later event answers the zero Action.
//  5. Otherwise wait: for readability if WantRead, for writability if
//     WantWrite (then call Writable), and for WakeAt if it is not zero (then
//     call Timer); WakeAt replaces any earlier timer. A driver that blocks
//     in a write waits for WakeAt there too, and reports what it wrote. An Action that is not
//     Close always has something to wait for, unless a Call is in flight.
//
// Out, FIN and Close never come together: FIN comes once every byte is
// written and no More output is owed, Close last. Reading stops (WantRead
// false) while the buffer holds HighWater bytes or more, while the session
// has More output (what the peer sends meanwhile waits in the kernel),
// after the peer's EOF and once the session asked to close; a Deferred Conn
// also reads ahead of its call in flight by one read at most, and starts a
// call with input only while the buffer is below LowWater, since the
// session sees only the call's own buffer. A session with More output is
// woken for it while the buffer is below
// LowWater, at most 64 times per event so that one fast reader of a large
// reply cannot keep a loop from its other connections (WantWrite then
// stays set: the next Writable goes on).
//
// After FINSent the Conn drains: it reads and discards what the peer still
// sends (WantRead, WakeAt the drain deadline) until EOF, an error,
// DrainTimeout or DrainLimit bytes, whichever comes first, and then asks
// for Close. Closing a socket with unread input would send RST instead of
// FIN, and the peer's kernel may then discard the reply it has not read
// yet; net/http's closeWriteAndWait lingers the same way. If the peer had
// already half-closed, the Close follows the FIN at once.
//
// # Timeouts
//
// Under Options.RequestTimeout and Options.IdleTimeout the Conn keeps two
// timers of its own, as net/http's ReadHeaderTimeout and IdleTimeout do,
// and every model keeps them alike: a request (a session reports one under
// way with protocol.Step.Partial) must arrive whole within RequestTimeout
// of its first byte, and while none is arriving some byte must move within
// IdleTimeout, unless the session is at work (a wake-up due, More output
// to make); a reply the peer does not read counts as idleness too. Past
// either, Timer answers Close and Err says which (ErrRequestTimeout,
// ErrIdleTimeout). The timers are WakeAt too, and move only when they fire
// or a request begins, so that a busy connection does not re-arm a timer
// per event; a blocking driver uses WakeAt as the deadline of its blocked
// Read and Write alike.
//
// Err says how the connection ended: the error given to Fail before the
// drain began, a timeout, or nil for an orderly close or an Abort. An error during
// the drain (the peer resets after our FIN) ends the drain, not the
// orderly close.
//
// # What a driver must not do
//
// It must not call the session itself, write anything but Out, report more
// than it wrote, or keep Out past its next call on the Conn (Out is the
// Conn's own buffer). It must not read while WantRead is false (a blocking
// driver waits for WakeAt instead), nor close the socket before the Close
// action: to end a connection early it calls Fail or Abort and closes on
// the Close that returns. It must not call a Conn from two goroutines at
// once (only Call.Run runs elsewhere, and it touches only the session and
// the Call), and it must report Done for every Call it was handed, even
// after Close, since the session is released then.
package conn
