package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/socklab/socklab/protocol"
)

// ErrRemote is returned for a target that is neither loopback nor a Unix
// socket when remote targets were not explicitly allowed.
var ErrRemote = errors.New("target is not loopback or a Unix socket; pass --allow-remote to reach another machine")

// ErrRemoteListen is returned for a listen address that other machines can
// reach (every interface, or an address that is not loopback) when that was
// not explicitly allowed.
var ErrRemoteListen = errors.New("listen address is not loopback or a Unix socket; pass --allow-remote to serve other machines")

// CheckTarget reports whether addr on network may be loaded: a Unix socket
// or a loopback address (127.0.0.0/8, ::1, or a name that resolves only to
// loopback addresses) always may; anything else only with allowRemote. A
// load generator aimed at someone else's server by a typo is a
// denial-of-service tool, so the default is to refuse.
//
// It also refuses an address that cannot be one on network: no port, or a
// port that is not a number from 1 to 65535 or a service name.
func CheckTarget(network, addr string, allowRemote bool) error {
	return checkLoopback("check target", network, addr, allowRemote, ErrRemote, 1)
}

// CheckListen is CheckTarget for the server side: whether a server may
// listen on addr. A reference server (a file server taking uploads above
// all) is a test fixture, not a service: it listens on loopback or a Unix
// socket unless remote clients were explicitly allowed. An empty host
// (":9000") and the unspecified addresses (0.0.0.0, [::]) mean every
// interface, and are refused like any address that is not loopback. Port 0
// (any free port) is an address to listen on.
func CheckListen(network, addr string, allowRemote bool) error {
	return checkLoopback("check listen address", network, addr, allowRemote, ErrRemoteListen, 0)
}

// checkLoopback is the one loopback rule of CheckTarget and CheckListen; op
// names the check in errors, errRemote is the refusal they wrap, and
// minPort the lowest port that addr may name.
func checkLoopback(op, network, addr string, allowRemote bool, errRemote error, minPort int) error {
	if protocol.IsUnix(network) {
		return nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("%s %s %s: network %q: want tcp, udp, unix or unixgram", op, network, addr, network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", op, network, addr, err)
	}
	if p, err := net.LookupPort(network, port); err != nil || p < minPort {
		return fmt.Errorf("%s %s %s: port %q: want a number from %d to 65535", op, network, addr, port, minPort)
	}
	if allowRemote {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s %s %s: %w", op, network, addr, errRemote)
	}
	if host == "" {
		return fmt.Errorf("%s %s %s: empty host: %w", op, network, addr, errRemote)
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", op, network, addr, err)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Unmap().IsLoopback() {
			return fmt.Errorf("%s %s %s: %s resolves to %s: %w", op, network, addr, host, s, errRemote)
		}
	}
	return nil
}
