package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Options configures a protocol's server side. The zero value gives every
// protocol its documented default.
type Options struct {
	// Framing is the dialect: Line (the default) or Raw, the tutorials'
	// one send, one message. Auto is refused: a server does not probe.
	Framing Framing
	// MaxLine is the longest message accepted, excluding its terminator
	// (default DefaultMaxLine). A longer one is refused with an error
	// message and an orderly close.
	MaxLine int
	// AckReply is the ack protocol's answer (default AckReply); AckQuote
	// in it stands for the message acknowledged.
	AckReply string
	// Banner is the banner protocol's message (default DefaultBanner).
	Banner string
	// Poem is the poetry protocol's lines (default DefaultPoem).
	Poem []string
	// LineDelay is the poetry protocol's pause between lines
	// (default DefaultLineDelay).
	LineDelay time.Duration
	// Root is the file protocol's directory; names are confined to it.
	Root string
	// MaxRequests is the http protocol's most requests answered on one
	// connection: the last answer says Connection: close and the server
	// closes, as nginx's keepalive_requests does (0: no limit).
	MaxRequests int
}

// Factory makes the server-side session of one new connection. A Factory is
// safe for concurrent use.
type Factory func() Session

// Protocol describes one protocol: its name, what it does, and how to make
// its server sessions.
type Protocol struct {
	Name    string
	Summary string
	// Stream is true for protocols served over TCP and Unix stream sockets.
	Stream bool
	// Datagram is true for protocols served over UDP and unixgram.
	Datagram bool
	// Framed is true for protocols whose messages depend on the Framing
	// (all but echo, a byte stream that needs none).
	Framed bool
	// New validates o and returns the factory of server sessions.
	New func(o Options) (Factory, error)
	// NewClient returns the client side of one connection.
	NewClient func(o ClientOptions) (Client, error)
}

// ClientOptions configures a protocol's client side. The zero value gives
// every protocol its documented default.
type ClientOptions struct {
	// Options are the server's options, which the client needs to know
	// what a correct answer is (the banner text, the poem).
	Options
	// Size is the echo payload size in bytes (default 64).
	Size int
	// Text makes echo payloads printable ASCII instead of every byte
	// value, for servers that decode what they read as text (the
	// tutorial's asyncio echo server fails on bytes that are not UTF-8).
	Text bool
	// Name is the hello protocol's name, or the file protocol's file name.
	Name string
	// Path is the HTTP request path (default "/").
	Path string
	// Host is the HTTP Host header (default "localhost").
	Host string
}

// ErrUnknown is returned by Lookup for a name no protocol has.
var ErrUnknown = errors.New("unknown protocol")

var registry = map[string]Protocol{}

// register adds p to the registry; each protocol's file calls it from init.
// It wraps New and NewClient so that every protocol refuses a framing that
// is not Line or Raw in one place.
func register(p Protocol) {
	if _, dup := registry[p.Name]; dup {
		panic("protocol: duplicate registration of " + p.Name)
	}
	newServer, newClient := p.New, p.NewClient
	p.New = func(o Options) (Factory, error) {
		if err := o.Framing.checkConcrete(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		return newServer(o)
	}
	p.NewClient = func(o ClientOptions) (Client, error) {
		if err := o.Framing.checkConcrete(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		return newClient(o)
	}
	registry[p.Name] = p
}

// Lookup returns the protocol called name.
func Lookup(name string) (Protocol, error) {
	p, ok := registry[name]
	if !ok {
		return Protocol{}, fmt.Errorf("%w %q (valid: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	return p, nil
}

// Names returns every protocol's name, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// All returns every protocol, sorted by name.
func All() []Protocol {
	ps := make([]Protocol, 0, len(registry))
	for _, n := range Names() {
		ps = append(ps, registry[n])
	}
	return ps
}
