package protocol

import (
	"bytes"
	"time"
)

func init() {
	register(Protocol{
		Name:     "echo",
		Summary:  "every byte back, in order; on EOF flush then close (RFC 862)",
		Stream:   true,
		Datagram: true,
		New: func(Options) (Factory, error) {
			return func() Session { return new(echoSession) }, nil
		},
		NewClient: newEchoClient,
	})
}

// echoSession is RFC 862 over a stream. It needs no framing: a byte stream in
// is the same byte stream out. Memory stays bounded because drivers stop
// reading while their output buffer is above HighWater.
type echoSession struct{}

func (*echoSession) Open(time.Time, *bytes.Buffer) Step { return Step{} }

func (*echoSession) Data(in []byte, _ time.Time, out *bytes.Buffer) Step {
	out.Write(in)
	return Step{}
}

func (*echoSession) EOF(time.Time, *bytes.Buffer) Step { return Step{Close: true} }

func (*echoSession) Wake(time.Time, *bytes.Buffer) Step { return Step{} }
