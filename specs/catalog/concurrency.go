package catalog

import (
	"fmt"
	"sync"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// concurrentClients is how many clients are served while one idles.
const concurrentClients = 32

// concurrencySpecs: many clients, idle ones and slow ones.
func init() {
	behave("concurrent-clients", func(s *spec) {
		skipIfOneWay(s, "concurrent-clients", "stream-concurrent")
		if s.Capacity > 0 && s.Capacity <= concurrentClients {
			capacityWait(s)
			return
		}
		idle := connect(s)
		_ = idle
		errs := make([]error, concurrentClients)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := tryConnect(s)
				if err != nil {
					errs[i] = err
					return
				}
				defer c.Close()
				for j := 0; j < requestsPerClient(s) && err == nil; j++ {
					err = c.roundtrip()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		failed := 0
		var first error
		for _, err := range errs {
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		}
		if failed > 0 {
			s.failf(fmt.Sprintf("all %d clients served while an idle client holds a connection", concurrentClients),
				fmt.Sprintf("%d of them failed; the first: %v", failed, first),
				"the server serves one client at a time (no thread, process or event loop per connection), its pool is smaller than it claims, "+
					"or its listen backlog is too small for clients that connect at once (listen(5): the kernel drops the extra SYNs and the clients retry seconds later)")
		}
	})

	behave("slow-client", func(s *spec) {
		skipIfOneWay(s, "slow-client", "stream-concurrent")
		if s.Capacity == 1 {
			s.skip("slow-client needs two clients at once; this server declares a capacity of 1, so a stalled client holds its only slot")
		}
		slow := connect(s)
		req, m := slow.next()
		half := max(1, len(req)/2)
		if s.raw() {
			half = len(req) // one send is one message: stall before the next one
		}
		s.check(slow.Write(req[:half]), "half a request to be sent", "the server closed the connection")
		for i := 0; i < 3; i++ {
			c, err := tryConnect(s)
			if err == nil {
				err = c.roundtrip()
				c.Close()
			}
			if err != nil {
				s.failf("other clients answered within "+s.Timeout.String()+" while one client stalls mid-request", err.Error(),
					"the server blocks reading the rest of one client's request (a blocking readline or recv loop inside a single-threaded server)")
			}
		}
		if half < len(req) {
			s.check(slow.Write(req[half:]), "the rest of the request to be sent", "the server closed the stalled connection")
		}
		s.check(slow.Expect(m), "the stalled client's answer once its request is whole", "the server lost the first half of the request")
	})
}

// requestsPerClient is how many requests each concurrent client makes: two
// on one connection, or one where the server closes after each answer.
func requestsPerClient(s *spec) int {
	if s.closesAfterReply() {
		return 1
	}
	return 2
}

// capacityWait checks a server that declares a capacity: client N+1 is not
// refused but waits, and is served once a slot frees.
func capacityWait(s *spec) {
	holders := make([]*client, s.Capacity)
	for i := range holders {
		holders[i] = connect(s)
		holders[i].mustRoundtrip(fmt.Sprintf("holder %d of the declared capacity %d", i+1, s.Capacity))
	}
	conn, err := wire.Dial(s.Network, s.Addr, s.Timeout)
	s.check(err, fmt.Sprintf("client %d to connect (and wait) past the declared capacity", s.Capacity+1),
		"the listen backlog is too small, or the server refuses connections past its capacity")
	defer conn.Close()
	extra := &client{Conn: conn, s: s, pc: newProtocolClient(s, protocol.ClientOptions{})}
	req, m := extra.next()
	// The request waits in the socket until the server gets to it.
	s.check(extra.Write(req), "the waiting client's request to be sent", "the server refused the waiting client")
	s.check(holders[0].Close(), "a holder to close", "")
	if g := extra.pc.Greeting(); g != nil {
		s.check(extra.ExpectWithin(g, 2*s.Timeout), fmt.Sprintf("client %d greeted once a slot frees", s.Capacity+1),
			"the server refused or dropped the client that waited past its capacity")
	}
	s.check(extra.ExpectWithin(m, 2*s.Timeout), fmt.Sprintf("client %d served once a slot frees", s.Capacity+1),
		"the server refused or dropped the client that waited past its capacity, or never reuses a freed slot")
}
