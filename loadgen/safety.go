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
func CheckTarget(network, addr string, allowRemote bool) error {
	if protocol.IsUnix(network) {
		return nil
	}
	if allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("check target %s %s: %w", network, addr, err)
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
