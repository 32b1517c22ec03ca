package catalog

import (
	"fmt"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
)

// T is what a behaviour reports through: the part of testing.TB that both
// front ends give it. The Ginkgo suite passes GinkgoT() (with Note as a
// report entry); socklab check passes its own recorder.
type T interface {
	// Fatalf fails the behaviour with the message and ends it: it does
	// not return.
	Fatalf(format string, args ...any)
	// Skipf ends the behaviour as skipped, with the reason: it does not
	// return.
	Skipf(format string, args ...any)
	// Cleanup registers f to run when the behaviour ends, however it ends,
	// the last registered first.
	Cleanup(f func())
	// Note records a fact about the run that is neither a pass nor a
	// failure (UDP loss, a dialect detail), shown in the reports.
	Note(name, value string)
}

// Target is one server the catalogue runs against, and the state its
// behaviours share: the file protocol's fixtures, the datagram client that
// every datagram behaviour but one uses. Fill in the exported fields, run
// behaviours with Behaviour.Run (one at a time, in catalogue order), then
// Close it.
type Target struct {
	// Name names the target in reports.
	Name string
	// Model is the reference model serving it, "" for an external server.
	Model string
	// Network is tcp, udp, unix or unixgram; Addr is HOST:PORT or a socket
	// path.
	Network, Addr string
	// Protocol is the protocol's name (protocol.Names).
	Protocol string
	// Capacity is the number of clients the server serves at once, 0 for
	// no declared limit.
	Capacity int
	// Timeout is the per-step wait for a reply or a close.
	Timeout time.Duration
	// Root is the file protocol's root directory on this machine, or ""
	// if unknown (the fixtures are then uploaded with put).
	Root string
	// Options are the server's options as its clients must know them.
	// Options.Framing is the framing of every behaviour: line or raw,
	// never auto (see package probe).
	Options protocol.Options
	// External is a server that socklab did not start: some checks of a
	// reference target's internals (the configured banner, files in
	// /tmp) are left out.
	External bool

	mu       sync.Mutex
	oneWay   *bool
	stopped  string // why the behaviours after this point are not run
	fixtures bool   // the file fixtures are in place
	dgram    *dgramClient
	closers  []func()
}

// Close releases what the target's behaviours shared (the datagram client,
// the temporary directories). It does not stop the server.
func (tg *Target) Close() {
	tg.mu.Lock()
	closers := tg.closers
	tg.closers = nil
	tg.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// onClose registers f to run at Close.
func (tg *Target) onClose(f func()) {
	tg.mu.Lock()
	tg.closers = append(tg.closers, f)
	tg.mu.Unlock()
}

// Kind is Stream or Datagram, after the target's network.
func (tg *Target) Kind() string {
	if protocol.IsDatagram(tg.Network) {
		return Datagram
	}
	return Stream
}

// framing is the target's framing.
func (tg *Target) framing() protocol.Framing { return tg.Options.Framing }

// raw reports whether the target speaks the tutorials' raw dialect: one
// send is one message, no terminator, lock-step.
func (tg *Target) raw() bool { return tg.Options.Framing == protocol.Raw }

// closesAfterReply reports whether the server answers one request per
// connection and closes: the tutorials' HTTP dialect under raw framing
// (Connection: close; protocol/http.go's rawHTTPSession).
func (tg *Target) closesAfterReply() bool { return tg.raw() && tg.Protocol == "http" }

// isOneWay reports whether the protocol's whole exchange is one server
// stream (banner, poetry): its client sends no requests.
func (tg *Target) isOneWay() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.oneWay == nil {
		v := false
		if p, err := protocol.Lookup(tg.Protocol); err == nil {
			if cl, err := p.NewClient(protocol.ClientOptions{}); err == nil {
				req, _ := cl.Next(nil, 0)
				v = len(req) == 0
			}
		}
		tg.oneWay = &v
	}
	return *tg.oneWay
}

// Run runs behaviour b against tg, reporting through t. A behaviour that is
// not about tg's protocol or network is skipped with the reason, and so is
// every behaviour after one that left the target unusable (its fixtures
// could not be put in place).
func (b Behaviour) Run(t T, tg *Target) {
	if reason := b.NotFor(tg.Protocol, tg.Kind()); reason != "" {
		t.Skipf("%s", reason)
		return
	}
	if f := tg.Options.Framing; f != protocol.Line && f != protocol.Raw {
		t.Fatalf("target %s: framing %s: want line or raw (resolve auto with package probe first)", tg.Name, f)
		return
	}
	if tg.Timeout <= 0 {
		t.Fatalf("target %s: timeout %v: want a positive duration", tg.Name, tg.Timeout)
		return
	}
	s := &spec{Target: tg, t: t, id: b.ID}
	tg.mu.Lock()
	stopped := tg.stopped
	tg.mu.Unlock()
	if stopped != "" {
		s.skip("not run: " + stopped)
	}
	if tg.Protocol == "file" && tg.Kind() == Stream {
		s.prepareFiles()
	}
	b.run(s)
}

// spec is one behaviour running against one target: the target and the T
// that reports. Its helpers fail or skip the behaviour through t.
type spec struct {
	*Target
	t  T
	id string
}

// fatal fails the behaviour with msg.
func (s *spec) fatal(msg string) { s.t.Fatalf("%s", msg) }

// skip ends the behaviour as skipped with the reason.
func (s *spec) skip(reason string) { s.t.Skipf("%s", reason) }

// cleanup runs f when the behaviour ends.
func (s *spec) cleanup(f func()) { s.t.Cleanup(f) }

// note records a fact about the run.
func (s *spec) note(name, value string) { s.t.Note(name, value) }

// stop marks the target unusable for the behaviours after this one and
// fails this one: why says what went wrong, for their skip reason.
func (s *spec) stop(why, expected, actual, cause string) {
	s.mu.Lock()
	if s.stopped == "" {
		s.stopped = fmt.Sprintf("%s (in %s)", why, s.id)
	}
	s.mu.Unlock()
	s.failf(expected, actual, cause)
}
