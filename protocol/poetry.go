package protocol

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// DefaultPoem is the poetry protocol's default poem: the four lines the
// tutorial's poetry server sends.
var DefaultPoem = []string{"1111", "2222", "3333", "4444"}

// DefaultLineDelay is the poetry protocol's default pause between lines, the
// tutorial's time.sleep(0.5).
const DefaultLineDelay = 500 * time.Millisecond

// PoetryReply returns everything the poetry server sends for poem (the
// default if empty) under framing f: each line followed by "\n" under Line,
// the lines back to back under Raw (the tutorial's server strips them).
func PoetryReply(poem []string, f Framing) string {
	if len(poem) == 0 {
		poem = DefaultPoem
	}
	var b strings.Builder
	for _, l := range poem {
		b.WriteString(f.Frame(l))
	}
	return b.String()
}

func init() {
	register(Protocol{
		Name:    "poetry",
		Summary: "sends a poem one line at a time with a delay (default 500ms), then closes",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			poem, delay, err := poetryOptions(o)
			if err != nil {
				return nil, err
			}
			return func() Session { return &poetrySession{f: o.Framing, poem: poem, delay: delay} }, nil
		},
		NewClient: func(o ClientOptions) (Client, error) {
			if _, _, err := poetryOptions(o.Options); err != nil {
				return nil, err
			}
			return &streamClient{want: []byte(PoetryReply(o.Poem, o.Framing))}, nil
		},
	})
}

// poetryOptions applies the defaults and refuses lines that would not stay
// one line each.
func poetryOptions(o Options) ([]string, time.Duration, error) {
	poem, delay := o.Poem, o.LineDelay
	if len(poem) == 0 {
		poem = DefaultPoem
	}
	if delay == 0 {
		delay = DefaultLineDelay
	}
	if delay < 0 {
		return nil, 0, fmt.Errorf("poetry: line delay %v: must not be negative", delay)
	}
	for i, l := range poem {
		if strings.Contains(l, "\n") {
			return nil, 0, fmt.Errorf("poetry: line %d %q: must not contain a newline", i+1, l)
		}
	}
	return poem, delay, nil
}

// poetrySession sends the first line on Open and each next one a delay
// after the previous one was sent (as the tutorial sleeps after each send,
// so a late wake-up delays the rest of the poem rather than bunching lines),
// then closes. Input is ignored, and so is the client's EOF: a client that
// half-closes at once still gets the whole poem, which it can still read.
type poetrySession struct {
	f     Framing
	poem  []string
	delay time.Duration
	next  int       // index of the next line to send
	due   time.Time // when it is due
}

func (s *poetrySession) Open(now time.Time, out *bytes.Buffer) Step {
	return s.send(now, out)
}

// send writes the next line and says when the one after it is due.
func (s *poetrySession) send(now time.Time, out *bytes.Buffer) Step {
	out.WriteString(s.poem[s.next])
	s.f.writeEnd(out)
	s.next++
	s.due = now.Add(s.delay)
	return s.step()
}

func (s *poetrySession) step() Step {
	if s.next >= len(s.poem) {
		return Step{Close: true}
	}
	return Step{WakeAt: s.due}
}

func (s *poetrySession) Data([]byte, time.Time, *bytes.Buffer) Step { return s.step() }

func (s *poetrySession) EOF(time.Time, *bytes.Buffer) Step { return s.step() }

// Wake sends the next line if it is due; an early (spurious) call only
// repeats when it is due.
func (s *poetrySession) Wake(now time.Time, out *bytes.Buffer) Step {
	if s.next >= len(s.poem) || now.Before(s.due) {
		return s.step()
	}
	return s.send(now, out)
}
