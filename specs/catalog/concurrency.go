package catalog

import (
	"fmt"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// concurrentClients is how many clients the server must hold at once.
const concurrentClients = 32

// slowConnect is a connect that took a SYN retransmission: the kernel
// dropped the first SYN because the listen backlog was full.
const slowConnect = 900 * time.Millisecond

// concurrencySpecs: many clients, idle ones and slow ones.
func init() {
	behave("concurrent-clients", func(s *spec) {
		skipIfOneWay(s, "concurrent-clients", "stream-concurrent")
		if s.Capacity > 0 && s.Capacity <= concurrentClients {
			capacityWait(s)
			return
		}
		// Hold concurrentClients clients at once, each served one exchange
		// and then idle, as long-lived clients are; count how many the
		// server serves, then one more must be served beside them.
		type held struct {
			dial time.Duration
			err  error
		}
		hs := make([]held, concurrentClients)
		cs := make([]*client, concurrentClients)
		var wg sync.WaitGroup
		for i := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				c, err := tryConnect(s)
				hs[i].dial = time.Since(start)
				if err == nil {
					cs[i] = c
					err = c.roundtrip()
				}
				hs[i].err = err
			}()
		}
		wg.Wait()
		s.cleanup(func() {
			for _, c := range cs {
				if c != nil {
					c.Close()
				}
			}
		})
		served, slow := 0, 0
		var first error
		for _, h := range hs {
			if h.dial >= slowConnect {
				slow++
			}
			if h.err == nil {
				served++
			} else if first == nil {
				first = h.err
			}
		}
		switch {
		case served < concurrentClients && slow > 0:
			s.failf(fmt.Sprintf("%d clients that connect at once all served", concurrentClients),
				fmt.Sprintf("%d of them not served within %v (the first: %v); %d connects took %v or more", concurrentClients-served, s.Timeout, first, slow, slowConnect),
				"the listen backlog is too small for clients that connect at once (listen(5)): the kernel drops the extra SYNs and the clients retry a second or more later")
		case served < concurrentClients:
			s.failf(fmt.Sprintf("%d clients held at once, all served", concurrentClients),
				fmt.Sprintf("it serves %d clients at once: the other %d got no answer within %v (the first: %v)", served, concurrentClients-served, s.Timeout, first),
				fmt.Sprintf("a pool or a cap of %d connections (or one at a time); declare --max-concurrency %d if that is intended", served, served))
		}
		c, err := tryConnect(s)
		if err == nil {
			defer c.Close()
			err = c.roundtrip()
		}
		s.check(err, fmt.Sprintf("a new client served while %d clients are held", concurrentClients),
			fmt.Sprintf("the server holds at most %d connections; declare --max-concurrency %d if that is intended", concurrentClients, concurrentClients))
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
