package catalog

import (
	"errors"
	"fmt"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// How a fresh client fares with the server: the level the liveness probe
// found before the first behaviour, which it asks for again after each.
type liveness int

const (
	livenessUnknown liveness = iota
	// accepted: a connection opens, but nothing answers the protocol's
	// first request (a server that speaks another dialect of it).
	accepted
	// answered: the protocol's first request gets bytes back (the greeting
	// and a reply, the first bytes of a stream, an echoed datagram).
	answered
)

// unreachable is the error of a server that cannot be reached at all.
type unreachable struct{ err error }

func (u unreachable) Error() string { return u.err.Error() }
func (u unreachable) Unwrap() error { return u.err }

// Reach checks, once per target, that a stream server can be reached, and
// learns how far a fresh client gets with it: answered, or only accepted.
// Every behaviour calls it, so a front end need not; one that calls it
// before the first behaviour can stop with one clear error instead of a
// failure per behaviour.
//
// A datagram server is not probed, neither here nor after its behaviours:
// it has no connections to open afresh, and a probe's datagram would become
// part of what the behaviours judge (a server that answers the previous
// sender would send the behaviours' replies to the probe).
func (tg *Target) Reach() error {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.live != livenessUnknown || tg.reachErr != nil {
		return tg.reachErr
	}
	if tg.Kind() == Datagram {
		return nil
	}
	lv, err := tg.probe()
	var u unreachable
	switch {
	case errors.As(err, &u):
		tg.reachErr = u.err
	default:
		tg.live = lv
	}
	return tg.reachErr
}

// alive probes the server again after a behaviour: a fresh client must get
// as far as before the first one.
func (s *spec) alive() error {
	s.mu.Lock()
	want := s.live
	s.mu.Unlock()
	if want == livenessUnknown { // a datagram server, or one never reached
		return nil
	}
	got, err := s.probe()
	if got >= want {
		return nil
	}
	if err == nil {
		err = errors.New("no answer")
	}
	return err
}

// probe opens one fresh client of a stream server and sees how far it gets.
// An unreachable error means it could not even connect.
func (tg *Target) probe() (liveness, error) { return tg.probeAt(tg.Addr) }

// probeAt is probe at another address of the same server (its IPv6
// listener).
func (tg *Target) probeAt(addr string) (liveness, error) {
	conn, err := wire.Dial(tg.Network, addr, tg.Timeout)
	if err != nil {
		return livenessUnknown, unreachable{err}
	}
	defer conn.Close()
	p, err := protocol.Lookup(tg.Protocol)
	if err != nil {
		return accepted, err
	}
	o := protocol.ClientOptions{Options: tg.Options}
	if tg.Protocol == "file" {
		o.Name = fixtureName
	}
	pc, err := p.NewClient(o)
	if err != nil {
		return accepted, err
	}
	if g := pc.Greeting(); g != nil {
		if err := conn.Expect(g); err != nil {
			return accepted, fmt.Errorf("greeting: %w", err)
		}
	}
	req, _ := pc.Next(nil, 0)
	if len(req) > 0 {
		if err := conn.Write(req); err != nil {
			return accepted, err
		}
	}
	if err := conn.Expect(&someBytes{}); err != nil {
		return accepted, fmt.Errorf("an answer to %s: %w", quote(req), err)
	}
	return answered, nil
}

// someBytes is a matcher that any byte completes.
type someBytes struct{}

func (someBytes) Match(p []byte, eof bool) (int, bool, error) {
	if len(p) > 0 {
		return len(p), true, nil
	}
	if eof {
		return 0, false, fmt.Errorf("%w: EOF before any byte", protocol.ErrShortReply)
	}
	return 0, false, nil
}
