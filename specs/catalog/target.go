package catalog

import (
	"errors"
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
	// Strict fails a behaviour on a missed should-level check, which
	// otherwise passes it non-strictly with a NonStrict note.
	Strict bool
	// PID is the server's process id, 0 if unknown: slow-reader reads its
	// resident memory (VmRSS in /proc/PID/status) while clients do not read.
	PID int

	mu       sync.Mutex
	live     liveness // what a fresh client of a stream server gets (Reach)
	reachErr error
	outcomes map[string]State // of the behaviours run, for dependsOn
	oneWay   *bool
	stopped  string // why the behaviours after this point are not run
	setup    sync.Once
	setupErr error
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

// ErrSetup is wrapped by the error of a target's set-up.
var ErrSetup = errors.New("set-up failed")

// Setup puts in place what the target's behaviours share: the file
// protocol's fixtures, written under Root or uploaded with put. It does the
// work once; every call returns the first call's error, which wraps
// ErrSetup. A front end calls it before the first behaviour and, if it
// fails, stops with that error: the set-up is not a behaviour, and its
// failure is no behaviour's (socklab check exits 2 with it, the Ginkgo suite
// fails the target's BeforeAll). Behaviour.Run calls it too.
func (tg *Target) Setup() error {
	tg.setup.Do(func() {
		if tg.Protocol != "file" || tg.Kind() != Stream {
			return
		}
		if err := putFixtures(tg); err != nil {
			tg.setupErr = fmt.Errorf("%w: target %s: %w", ErrSetup, tg.Name, err)
		}
	})
	return tg.setupErr
}

// Run runs behaviour b against tg, reporting through t.
//
// A behaviour that is not about tg's protocol or network is skipped with the
// reason. After the behaviour, once the connections it opened are closed, a
// fresh client must still be served as it was before the first behaviour
// (see Reach): if the server stopped answering, this behaviour fails on that
// alone, and every later one is not run, naming it, instead of failing in a
// cascade that buries the real defect. If the target's set-up fails (see
// Setup), every behaviour fails with that error, which names no behaviour.
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
	if err := tg.Reach(); err != nil {
		s.stop("the server could not be reached", "a server at "+tg.Addr, err.Error(), "nothing listens there, or it is not the protocol given")
	}
	if err := tg.Setup(); err != nil {
		s.fatal(fmt.Sprintf("not run: %v", err))
	}
	completed := false
	defer func() { s.finish(completed) }()
	b.run(s)
	completed = true
}

// spec is one behaviour running against one target: the target and the T
// that reports. Its helpers fail or skip the behaviour through t.
type spec struct {
	*Target
	t        T
	id       string
	ended    State // Failed or Skipped once a helper ended the behaviour
	cleanups []func()
}

// fatal fails the behaviour with msg.
func (s *spec) fatal(msg string) {
	s.ended = Failed
	s.t.Fatalf("%s", msg)
}

// skip ends the behaviour as skipped with the reason.
func (s *spec) skip(reason string) {
	s.ended = Skipped
	s.t.Skipf("%s", reason)
}

// cleanup runs f when the behaviour ends, before the liveness probe: the
// behaviour's connections must not hold a server's only slot while it runs.
func (s *spec) cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

// note records a fact about the run.
func (s *spec) note(name, value string) { s.t.Note(name, value) }

// NonStrict is the name of the note that a missed should-level check
// leaves: the behaviour passes, non-strictly, with this reason.
const NonStrict = "non-strict"

// shouldf reports a missed should-level check: a note, and the behaviour
// goes on, or under Target.Strict a failure.
func (s *spec) shouldf(expected, actual, cause string) {
	if s.Strict {
		s.failf(expected, actual, cause)
	}
	s.note(NonStrict, fmt.Sprintf("expected: %s\nactual:   %s\nusual cause: %s", expected, actual, cause))
}

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

// finish ends the behaviour: its cleanups, last first, then its outcome is
// recorded for the behaviours that depend on it, and the liveness probe
// runs. It runs deferred, also when a helper ended the behaviour (then a
// dead server only stops the later behaviours: this one has failed or been
// skipped already).
func (s *spec) finish(completed bool) {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	outcome := Passed
	switch {
	case s.ended != "":
		outcome = s.ended
	case !completed:
		outcome = Failed // a panic
	}
	s.mu.Lock()
	if s.outcomes == nil {
		s.outcomes = map[string]State{}
	}
	s.outcomes[s.id] = outcome
	stopped := s.stopped != ""
	s.mu.Unlock()
	if outcome == Skipped || stopped {
		return
	}
	err := s.alive()
	if err == nil {
		return
	}
	s.mu.Lock()
	s.stopped = fmt.Sprintf("the server stopped answering after %s", s.id)
	s.outcomes[s.id] = Failed
	s.mu.Unlock()
	if completed {
		s.failf("a fresh client served after "+s.id+", as before it", err.Error(),
			"what this behaviour did (a reset, a half-close, a flood) killed or wedged the server: an unhandled exception in its accept loop, or a loop that never returns")
	}
}

// dependsOn reports whether behaviour id passed against this target, for a
// check that means something only then; if not, it says why, for the note
// that replaces the check.
func (s *spec) dependsOn(id string) (bool, string) {
	s.mu.Lock()
	st, ran := s.outcomes[id]
	s.mu.Unlock()
	switch {
	case !ran:
		return false, "depends on " + id + ", which did not run"
	case st != Passed:
		return false, fmt.Sprintf("depends on %s, which %s", id, map[State]string{Failed: "failed", Skipped: "was skipped"}[st])
	}
	return true, ""
}
