// Package catalog is socklab's behaviour catalogue, as a library: every
// behaviour a conformance run checks, each a value with its stable id (the
// Ginkgo label that selects it), its area, its one-sentence requirement, the
// protocols and networks it is about, and Run, which checks it against a
// Target and reports through a small T (h2spec keeps its cases this way).
//
// Two front ends run it and print the same end-of-run table (WriteTable)
// and the same report formats: the Ginkgo suite in package specs (every
// reference target, or one external server) and socklab check (one
// external server, no Go toolchain needed). Flags are the options of a run
// against an external server, the same in both. The proof of the
// catalogue, package specs/broken, runs Check against servers that are
// broken on purpose: every behaviour must be failed by one of them.
//
// A behaviour's failure message says what was expected, what happened, and
// what in a server usually causes it.
package catalog

import (
	"fmt"
	"slices"
)

// Kinds of network a behaviour is about.
const (
	Stream   = "stream"
	Datagram = "datagram"
)

// Behaviour is one entry of the catalogue.
type Behaviour struct {
	// ID is the stable id, used as the spec's Ginkgo label.
	ID string
	// Area is the group the behaviour belongs to (one file of this package
	// per area).
	Area string
	// Kind is Stream or Datagram.
	Kind string
	// Protocols lists the protocols the behaviour is about; nil means
	// every protocol of its kind for which it makes sense (the spec decides
	// and skips with the reason otherwise).
	Protocols []string
	// Requirement is the one-sentence requirement, the spec's text. Its
	// checks are musts: a violation fails the behaviour.
	Requirement string
	// Should names the behaviour's should-level checks, if any: a
	// violation passes it non-strictly with the reason (a NonStrict note),
	// or fails it under Target.Strict (--strict).
	Should string

	// run is the behaviour's check, registered by its area's file.
	run func(s *spec)
}

// behave registers the check of behaviour id; each area's file calls it
// from init.
func behave(id string, run func(s *spec)) {
	for i := range behaviours {
		if behaviours[i].ID == id {
			if behaviours[i].run != nil {
				panic(fmt.Sprintf("catalog: behaviour %q registered twice", id))
			}
			behaviours[i].run = run
			return
		}
	}
	panic(fmt.Sprintf("catalog: unknown behaviour %q", id))
}

// behaviours is the catalogue, in the order the specs run for one target.
var behaviours = []Behaviour{
	{ID: "greeting", Area: "basic", Kind: Stream, Protocols: []string{"hello", "banner"},
		Requirement: "the greeting or banner arrives as soon as the connection opens; a banner is valid UTF-8 followed by an orderly close"},
	{ID: "roundtrip", Area: "basic", Kind: Stream,
		Requirement: "a request gets the protocol's answer, byte for byte"},
	{ID: "close-on-eof", Area: "lifecycle", Kind: Stream,
		Requirement: "after the client half-closes, the server sends what it still owes and closes in order (EOF, not a reset)"},
	{ID: "exit-command", Area: "lifecycle", Kind: Stream, Protocols: []string{"hello"},
		Requirement: "exit closes this connection in order, lines after it are not answered, and the server still accepts new clients"},
	{ID: "ipv6", Area: "network", Kind: Stream,
		Requirement: "where the server listens on ::1 too (the port of 127.0.0.1), a client there gets as far as one on 127.0.0.1; --addr [::1]:PORT runs the whole catalogue over IPv6"},
	{ID: "fragmented-input", Area: "framing", Kind: Stream,
		Requirement: "requests written one byte at a time with pauses get exactly the replies of unfragmented requests"},
	{ID: "pipelined-input", Area: "framing", Kind: Stream,
		Requirement: "many requests in one write all get answers, in order, none dropped"},
	{ID: "oversized-line", Area: "framing", Kind: Stream, Protocols: []string{"hello", "ack", "file", "http"},
		Requirement: "a line beyond the server's limit is refused with a close, and the server keeps serving others",
		Should:      "an error line before the close"},
	{ID: "partial-send", Area: "payload", Kind: Stream, Protocols: []string{"echo", "file"},
		Requirement: "a large answer to a client that reads slowly with a small receive buffer arrives whole and in order"},
	{ID: "large-payload", Area: "payload", Kind: Stream, Protocols: []string{"echo"},
		Requirement: "payloads from 1 byte to 16 MiB holding all 256 byte values come back intact"},
	{ID: "concurrent-clients", Area: "concurrency", Kind: Stream,
		Requirement: "32 clients held open at once are all served, and a 33rd beside them; past a declared capacity a client waits and is served when a slot frees"},
	{ID: "slow-client", Area: "concurrency", Kind: Stream,
		Requirement: "a client that dribbles half a request and stalls does not delay the others"},
	{ID: "file-get", Area: "file", Kind: Stream, Protocols: []string{"file"},
		Requirement: "get of an existing file returns its size and exactly its bytes"},
	{ID: "file-get-missing", Area: "file", Kind: Stream, Protocols: []string{"file"},
		Requirement: "get of a missing file is refused with a no reply and the connection stays usable"},
	{ID: "file-put", Area: "file", Kind: Stream, Protocols: []string{"file"},
		Requirement: "put then get returns the same bytes for sizes 0, 1, 4095, 4096, 4097 and 10 MiB"},
	{ID: "path-traversal", Area: "file", Kind: Stream, Protocols: []string{"file"},
		Requirement: "get and put of names that leave the root are refused and nothing outside the root is read or written"},
	{ID: "interrupted-put", Area: "file", Kind: Stream, Protocols: []string{"file"},
		Requirement: "an upload cut mid-way never shows under its name: get answers no or the previous complete content"},
	{ID: "http-get", Area: "http", Kind: Stream, Protocols: []string{"http"},
		Requirement: "GET / is answered with 200 and the body Hello, world!"},
	{ID: "http-keepalive", Area: "http", Kind: Stream, Protocols: []string{"http"},
		Requirement: "several requests on one connection, one by one and pipelined, are all answered in order"},
	{ID: "http-malformed", Area: "http", Kind: Stream, Protocols: []string{"http"},
		Requirement: "a malformed request is not answered as a valid one, and the server keeps serving",
		Should:      "a 400 response before the close (RFC 9112 §2.2)"},
	{ID: "stream-complete", Area: "poetry", Kind: Stream, Protocols: []string{"poetry"},
		Requirement: "the poem arrives whole, every line in order, then an orderly close"},
	{ID: "stream-concurrent", Area: "poetry", Kind: Stream, Protocols: []string{"poetry"},
		Requirement: "three clients at once receive their poems in about one poem's time unless a capacity is declared"},
	{ID: "datagram-echo", Area: "datagram", Kind: Datagram, Protocols: []string{"echo"},
		Requirement: "a datagram is echoed whole to the sender's address"},
	{ID: "datagram-max", Area: "datagram", Kind: Datagram, Protocols: []string{"echo"},
		Requirement: "a datagram of 65 507 bytes comes back whole"},
	{ID: "datagram-interleaved", Area: "datagram", Kind: Datagram, Protocols: []string{"echo"},
		Requirement: "replies go to the right one of several interleaved clients"},
	{ID: "datagram-burst", Area: "datagram", Kind: Datagram, Protocols: []string{"echo"},
		Requirement: "a burst of 1 000 datagrams is answered (unixgram: all, in order; UDP loss is reported, not failed)"},
	{ID: "datagram-empty", Area: "datagram", Kind: Datagram, Protocols: []string{"echo"},
		Requirement: "a zero-length datagram does not stop the server"},
	{ID: "abandoned-reply", Area: "resilience", Kind: Stream,
		Requirement: "a client that closes without reading a large reply does not stop the server"},
	{ID: "reset-survival", Area: "resilience", Kind: Stream,
		Requirement: "a client that resets its connection mid-request or mid-reply does not disturb the server"},
	{ID: "cut-mid-stream", Area: "resilience", Kind: Stream,
		Requirement: "a client whose connection ends (FIN) at each offset of a request, or after each offset of a reply, does not disturb the server"},
	{ID: "connection-churn", Area: "resilience", Kind: Stream,
		Requirement: "1 000 connect/request/close cycles all succeed (no descriptor leak)"},
	{ID: "accept-burst", Area: "pressure", Kind: Stream,
		Requirement: "1 000 connections opened at once each connect with its SYN dropped once at most (sent again 1 s late; a third time, 3 s late, is too late) and are served or refused in turn, the server never idle for a timeout while some wait",
		Should:      "no connect needs a SYN retransmission: the listen backlog holds the burst"},
	{ID: "slow-clients", Area: "pressure", Kind: Stream,
		Requirement: "a fresh client is served within the timeout while 200 clients (past a declared capacity, all but one slot) each hold half a request and stall"},
	{ID: "slow-reader", Area: "pressure", Kind: Stream,
		Requirement: "a fresh client is served within the timeout while 16 clients do not read the large replies they asked for; with --pid, an echo server's RSS grows by at most 4 MiB a client",
		Should:      "with --pid, a file server's RSS grows by at most 4 MiB a client too (it streams the 8 MiB file instead of reading it whole)"},
}

// All returns the catalogue in run order.
func All() []Behaviour { return slices.Clone(behaviours) }

// IDs returns every behaviour id in run order.
func IDs() []string {
	ids := make([]string, len(behaviours))
	for i, b := range behaviours {
		ids[i] = b.ID
	}
	return ids
}

// Get returns the behaviour with id, or panics: ids are compile-time
// constants of the specs, so an unknown one is a programming error.
func Get(id string) Behaviour {
	for _, b := range behaviours {
		if b.ID == id {
			return b
		}
	}
	panic(fmt.Sprintf("catalog: unknown behaviour %q", id))
}

// Known reports whether id is a behaviour of the catalogue.
func Known(id string) bool {
	for _, b := range behaviours {
		if b.ID == id {
			return true
		}
	}
	return false
}

// NotFor returns why b does not apply to protocol over a network of kind
// (Stream or Datagram), or "" if it applies as far as the catalogue knows.
func (b Behaviour) NotFor(protocol, kind string) string {
	if b.Kind != kind {
		return fmt.Sprintf("%s is a %s behaviour; this server is %s", b.ID, b.Kind, kind)
	}
	if b.Protocols != nil && !slices.Contains(b.Protocols, protocol) {
		return fmt.Sprintf("%s is about the %s protocol(s); this server speaks %s", b.ID, joinOr(b.Protocols), protocol)
	}
	return ""
}

func joinOr(s []string) string {
	out := ""
	for i, v := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " or "
		default:
			out += ", "
		}
		out += v
	}
	return out
}
