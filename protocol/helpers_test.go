package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// t0 is the fake clock's start for sessions driven without a real clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// maxWakes bounds the Wake calls a test driver makes for More output.
const maxWakes = 1 << 20

// drive runs session s as a driver would: Open, Data per chunk (none once a
// Step closes), EOF if eof, draining More output after each event. It
// returns everything written and whether the session asked to close.
func drive(s Session, chunks []string, eof bool) (string, bool, error) {
	var out bytes.Buffer
	st := s.Open(t0, &out)
	pump := func() error {
		for i := 0; st.More; i++ {
			if i == maxWakes {
				return errors.New("session never stopped asking for More")
			}
			next := s.Wake(t0, &out)
			next.Close = next.Close || st.Close
			st = next
		}
		return nil
	}
	if err := pump(); err != nil {
		return out.String(), st.Close, err
	}
	for _, c := range chunks {
		if st.Close {
			break
		}
		st = s.Data([]byte(c), t0, &out)
		if err := pump(); err != nil {
			return out.String(), st.Close, err
		}
	}
	if eof && !st.Close {
		st = s.EOF(t0, &out)
		if err := pump(); err != nil {
			return out.String(), st.Close, err
		}
	}
	return out.String(), st.Close, nil
}

// newSession makes one session of protocol name with options o.
func newSession(t testing.TB, name string, o Options) Session {
	t.Helper()
	p, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f()
}

// converse runs rounds requests of client c against session s in memory,
// advancing a fake clock to each WakeAt, and checks every reply with the
// client's matchers. It returns the first error a matcher reports.
func converse(s Session, c Client, rounds int) error {
	now := t0
	var out bytes.Buffer
	st := s.Open(now, &out)
	closed := false
	// produce runs the session until it owes nothing more right now.
	produce := func() {
		for i := 0; i < maxWakes && st.More; i++ {
			st = mergeStep(st, s.Wake(now, &out))
		}
	}
	// await feeds out to m until m is done, waking the session when it
	// wants (advancing the fake clock) and signalling EOF once it closed.
	await := func(m Matcher) error {
		for i := 0; i < maxWakes; i++ {
			produce()
			n, done, err := m.Match(out.Bytes(), st.Close && !st.More)
			out.Next(n)
			if err != nil {
				closed = closed || st.Close
				return err
			}
			if r, ok := m.(Replier); ok {
				if more := r.Reply(nil); len(more) > 0 && !st.Close {
					st = mergeStep(st, s.Data(more, now, &out))
					if !done {
						continue
					}
				}
			}
			if done {
				closed = closed || st.Close
				return nil
			}
			switch {
			case st.Close:
				if out.Len() == 0 {
					return fmt.Errorf("matcher neither done nor failed at EOF")
				}
			case !st.WakeAt.IsZero():
				if st.WakeAt.After(now) {
					now = st.WakeAt
				}
				st = mergeStep(st, s.Wake(now, &out))
			default:
				return fmt.Errorf("server owes nothing more, reply incomplete (%q left)", out.String())
			}
		}
		return errors.New("matcher never completed")
	}
	if m := c.Greeting(); m != nil {
		if err := await(m); err != nil {
			return fmt.Errorf("greeting: %w", err)
		}
	}
	for seq := uint64(0); seq < uint64(rounds); seq++ {
		req, m := c.Next(nil, seq)
		if len(req) > 0 && !st.Close {
			st = mergeStep(st, s.Data(req, now, &out))
		}
		if err := await(m); err != nil {
			return fmt.Errorf("request %d: %w", seq, err)
		}
		if closed {
			break
		}
	}
	return nil
}

// mergeStep applies a later step the way a driver does: Close sticks.
func mergeStep(prev, next Step) Step {
	next.Close = next.Close || prev.Close
	return next
}
