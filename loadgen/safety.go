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

// CheckTarget reports whether addr on network may be loaded: a Unix socket
// or a loopback address (127.0.0.0/8, ::1, or a name that resolves only to
// loopback addresses) always may; anything else only with allowRemote. A
// load generator aimed at someone else's server by a typo is a
// denial-of-service tool, so the default is to refuse.
//
// It also refuses an address that cannot be one on network: no port, or a
// port that is not a number from 1 to 65535 or a service name.
func CheckTarget(network, addr string, allowRemote bool) error {
	if protocol.IsUnix(network) {
		return nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("check target %s %s: network %q: want tcp, udp, unix or unixgram", network, addr, network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("check target %s %s: %w", network, addr, err)
	}
	if p, err := net.LookupPort(network, port); err != nil || p == 0 {
		return fmt.Errorf("check target %s %s: port %q: want a number from 1 to 65535", network, addr, port)
	}
	if allowRemote {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().IsLoopback() {
			return nil
		}
		return fmt.Errorf("check target %s %s: %w", network, addr, ErrRemote)
	}
	if host == "" {
		return fmt.Errorf("check target %s %s: empty host: %w", network, addr, ErrRemote)
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return fmt.Errorf("check target %s %s: %w", network, addr, err)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Unmap().IsLoopback() {
			return fmt.Errorf("check target %s %s: %s resolves to %s: %w", network, addr, host, s, ErrRemote)
		}
	}
	return nil
}
