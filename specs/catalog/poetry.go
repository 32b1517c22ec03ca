package catalog

import (
	"fmt"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// poemDuration bounds how long one poem takes to arrive.
func poemDuration(s *spec) time.Duration {
	lines := len(s.Options.Poem)
	if lines == 0 {
		lines = len(protocol.DefaultPoem)
	}
	delay := s.Options.LineDelay
	if delay == 0 {
		delay = protocol.DefaultLineDelay
	}
	return time.Duration(lines)*delay + s.Timeout
}

// poetrySpecs: the poem server, one line per delay, then close.
func init() {
	behave("stream-complete", func(s *spec) {
		c := connectNoGreeting(s)
		_, m := c.next()
		s.check(c.ExpectWithin(m, poemDuration(s)), "every line of the poem in order, then an orderly close",
			"the server drops lines on a partial send, or closes with SO_LINGER 0, or never closes")
	})

	behave("stream-concurrent", func(s *spec) {
		const n = 3
		type timing struct {
			first, last time.Time
			err         error
		}
		var ts [n]timing
		cs := make([]*client, n)
		for i := range cs {
			cs[i] = connectNoGreeting(s)
		}
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait := time.Duration(n) * poemDuration(s)
				tp := &timedPoem{}
				if ts[i].err = c.ExpectWithin(tp, wait); ts[i].err != nil {
					return
				}
				ts[i].first, ts[i].last = tp.first, time.Now()
				_, m := c.next()
				if k, done, err := m.Match(tp.got, true); err != nil || !done || k != len(tp.got) {
					ts[i].err = fmt.Errorf("received %s: %v", quote(tp.got), err)
				}
			}()
		}
		wg.Wait()
		for i, t := range ts {
			if t.err != nil {
				s.failf(fmt.Sprintf("all %d clients receive the whole poem", n), fmt.Sprintf("client %d: %v", i+1, t.err),
					"the server refuses or drops clients while it serves one")
			}
		}
		if s.Capacity > 0 && s.Capacity < n {
			return // past the capacity, clients wait their turn: all served is the requirement
		}
		// In about one poem's time: every poem started before any ended.
		// A server serving one client at a time starts the second poem
		// only after the first has ended. No clock is compared with a
		// bound, only the order of events.
		var lastFirst, firstLast time.Time
		for _, t := range ts {
			if t.first.After(lastFirst) {
				lastFirst = t.first
			}
			if firstLast.IsZero() || t.last.Before(firstLast) {
				firstLast = t.last
			}
		}
		if lastFirst.After(firstLast) {
			s.failf(fmt.Sprintf("%d poems sent at the same time (each starts before any ends)", n),
				fmt.Sprintf("a poem started %v after another had ended", lastFirst.Sub(firstLast).Round(time.Millisecond)),
				"the server serves one client at a time (a time.sleep between lines inside a single-threaded loop)")
		}
	})
}

// timedPoem collects a stream to EOF, at most wire.MaxCollect bytes, and
// notes when its first bytes came: the first line's, whatever the framing
// (a poetry server sends a line per send, with a pause after each).
type timedPoem struct {
	got   []byte
	first time.Time
}

func (t *timedPoem) Match(p []byte, eof bool) (int, bool, error) {
	if len(t.got)+len(p) > wire.MaxCollect {
		return 0, false, &wire.TooMuchError{Limit: wire.MaxCollect, While: "before the end of the poem"}
	}
	t.got = append(t.got, p...)
	if t.first.IsZero() && len(t.got) > 0 {
		t.first = time.Now()
	}
	return len(p), eof, nil
}
