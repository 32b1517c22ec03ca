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
	PortsExhausted              // no local port was left for a connect (EADDRNOTAVAIL)
	FdLimit                     // no file descriptor was left (EMFILE, ENFILE)
	NoClose                     // with CloseServer, the server did not close within the timeout
	Other                       // any other I/O error
	numClasses
)

var classNames = [numClasses]string{
	"connect_refused", "connect_timeout", "reset", "timeout",
	"short_reply", "wrong_reply", "refused", "ports_exhausted", "fd_limit",
	"no_close", "other",
}

// classAdvice is what fixes the classes whose cause lies in the client's
// machine or in the choice of who closes, not in the server.
var classAdvice = [numClasses]string{
	PortsExhausted: "the client ran out of ephemeral ports for this destination: each connection the client " +
		"closes first holds its port in TIME_WAIT for 60s, so one source address reaches about " +
		"(ports in net.ipv4.ip_local_port_range) / 60 new connections per second. Widen the range " +
		"(sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"), let connects reuse TIME_WAIT ports " +
		"(sysctl -w net.ipv4.tcp_tw_reuse=1), have the server close first (--close server, with a " +
		"protocol whose server closes), load from several source addresses (127.0.0.2, 127.0.0.3… on " +
		"loopback, or several shards), or lower the rate",
	FdLimit: "the client ran out of file descriptors: raise the limit (ulimit -n 65536, or LimitNOFILE " +
		"in a systemd unit; fs.file-max system-wide for ENFILE) or lower -c",
	NoClose: "--close server waits after the last reply for the server to close first, and this server " +
		"kept the connection open: an echo or ack server closes only after the client does. Use " +
		"--close client, or a protocol whose server closes first (banner, poetry; hello, whose client " +
		"sends exit)",
}

// Advice returns what fixes an error of class c, or "" if it is the
// server's to fix.
func (c Class) Advice() string {
	if c < 0 || c >= numClasses {
		return ""
	}
	return classAdvice[c]
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
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return PortsExhausted
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return FdLimit
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
