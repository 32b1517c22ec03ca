package protocol

import (
	"bytes"
	"time"
)

// HelloGreeting is the message the hello server sends when a connection
// opens ("Welcome!\n" on the wire under Line framing, "Welcome!" under Raw).
const HelloGreeting = "Welcome!"

// HelloExit is the line that makes the hello server close the connection.
const HelloExit = "exit"

// HelloReply returns the hello server's answer to the message name, without
// its terminator (Framing.Frame adds it).
func HelloReply(name string) string { return "Hello, " + name + "!" }

func init() {
	register(Protocol{
		Name:    "hello",
		Summary: "greeting Welcome!; each line NAME → Hello, NAME!; line exit closes",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			if err := checkMaxLine(o.MaxLine); err != nil {
				return nil, err
			}
			return func() Session { return newHelloSession(o.Framing, o.MaxLine) }, nil
		},
		NewClient: newHelloClient,
	})
}

// helloSession is the threaded tcplink server of the tutorial. Under Line
// framing the message "exit" closes the connection, and lines pipelined after
// it are not answered: the tutorial's server stops reading at exit too. An
// empty line is a name like any other ("Hello, !"), since here, unlike in the
// tutorial, an empty read is not an empty line. Under Raw framing it is the
// tutorial's server byte for byte: one read is one name, and "exit" must be
// a read of its own.
type helloSession struct{ lines lineSession }

func newHelloSession(f Framing, maxLine int) *helloSession {
	s := &helloSession{}
	s.lines.frame = newFramer(f, maxLine)
	s.lines.onLine = func(line []byte, out *bytes.Buffer) bool {
		if string(line) == HelloExit {
			return true
		}
		out.WriteString("Hello, ")
		out.Write(line)
		out.WriteString("!")
		s.lines.frame.end(out)
		return false
	}
	return s
}

func (s *helloSession) Open(_ time.Time, out *bytes.Buffer) Step {
	out.WriteString(HelloGreeting)
	s.lines.frame.end(out)
	return Step{}
}

func (s *helloSession) Data(in []byte, _ time.Time, out *bytes.Buffer) Step {
	return s.lines.data(in, out)
}

func (s *helloSession) EOF(_ time.Time, out *bytes.Buffer) Step { return s.lines.eof(out) }

func (s *helloSession) Wake(_ time.Time, out *bytes.Buffer) Step { return s.lines.wake(out) }
