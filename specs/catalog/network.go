package catalog

import (
	"errors"
	"fmt"
	"net"
)

// networkSpecs: the address families a TCP server listens on.
//
// A server given by --addr [::1]:PORT is judged over IPv6 by every
// behaviour. One given by an IPv4 address may listen on ::1 too, as a
// server bound to the unspecified address of a dual-stack socket does:
// then a client there must get as far as one on 127.0.0.1. IPv6 peers
// have addresses of another shape (a 4-tuple in Python), which a handler
// that formats or checks them as IPv4 trips on.
func init() {
	behave("ipv6", func(s *spec) {
		if s.Network != "tcp" {
			s.skip("ipv6 is about TCP servers; this one listens on " + s.Network)
		}
		host, port, err := net.SplitHostPort(s.Addr)
		s.check(err, "a HOST:PORT address", "")
		v6 := s.Addr
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			s.note("ipv6", "the whole catalogue runs over "+s.Addr)
		} else {
			if !s.External {
				s.skip("the reference target listens on " + s.Addr + " only; the targets named */ipv6 run the whole catalogue over ::1")
			}
			v6 = net.JoinHostPort("::1", port)
		}
		// A client there must get as far as one at the first address did
		// before the first behaviour (the liveness level).
		s.mu.Lock()
		want := s.live
		s.mu.Unlock()
		got, err := s.probeAt(v6)
		var u unreachable
		if errors.As(err, &u) {
			// Nothing listens there (refused), or this machine has no
			// IPv6 loopback: nothing to judge.
			s.skip(fmt.Sprintf("the server does not listen on ::1 (%v); give --addr [::1]:%s to run the catalogue over IPv6 if it listens there alone", u.err, port))
		}
		if got < want {
			if err == nil {
				err = fmt.Errorf("less than a client at %s gets", s.Addr)
			}
			s.failf(fmt.Sprintf("a client at %s served as one at %s is", v6, s.Addr), err.Error(),
				"the handler fails on an IPv6 peer: its address formatted as host:port ('%s:%s' % addr raises on Python's (host, port, flowinfo, scope_id)), or checked against 127.0.0.1; or another program listens on ::1 at this port")
		}
		if s.isOneWay() {
			return
		}
		if ok, why := s.dependsOn("roundtrip"); !ok {
			s.note("not run", "the check of an answer over IPv6: "+why)
			return
		}
		c, err := tryConnectTo(s, v6)
		if err == nil {
			defer c.Close()
			err = c.roundtrip()
		}
		s.check(err, "the protocol's answer to a client at "+v6, "the handler treats IPv6 peers differently (an address check or a per-family code path)")
	})
}
