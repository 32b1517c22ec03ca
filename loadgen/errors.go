package loadgen

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/socklab/socklab/protocol"
)

// Class is a class of failed request. Every failure is counted in exactly
// one class; none is dropped and none is recorded as a latency.
type Class int

// Error classes, in the order reports show them.
const (
	ConnectRefused Class = iota // the connect was refused (ECONNREFUSED, no such Unix path)
	ConnectTimeout              // the connect did not complete within the connect timeout
	Reset                       // the connection was reset or the pipe broke
	Timeout                     // no complete reply within the request timeout
	ShortReply                  // the server closed before the reply was complete
	WrongReply                  // the reply was not what the protocol must answer
	Refused                     // the server answered with a well-formed refusal
	Other                       // any other I/O error
	numClasses
)

var classNames = [numClasses]string{
	"connect_refused", "connect_timeout", "reset", "timeout",
	"short_reply", "wrong_reply", "refused", "other",
}

// String returns the class's name as it appears in summaries.
func (c Class) String() string {
	if c < 0 || c >= numClasses {
		return "unknown"
	}
	return classNames[c]
}

// Classes returns every class in report order.
func Classes() []Class {
	cs := make([]Class, numClasses)
	for i := range cs {
		cs[i] = Class(i)
	}
	return cs
}

// classify maps an error to its class. connecting says the error came from
// the connect, whose refusals and timeouts have classes of their own.
func classify(err error, connecting bool) Class {
	switch {
	case errors.Is(err, protocol.ErrWrongReply):
		return WrongReply
	case errors.Is(err, protocol.ErrShortReply), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ShortReply
	case errors.Is(err, protocol.ErrRefused):
		return Refused
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		timeout = true
	}
	if connecting {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
			return ConnectRefused
		case timeout, errors.Is(err, syscall.ETIMEDOUT):
			return ConnectTimeout
		}
		return Other
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case timeout:
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		// A datagram socket learns of an unreachable port on its next read.
		return ConnectRefused
	}
	return Other
}
