package specs_test

import (
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// concurrentClients is how many clients are served while one idles.
const concurrentClients = 32

// concurrencySpecs: many clients, idle ones and slow ones.
func concurrencySpecs(tg *target) {
	behave(tg, "concurrent-clients", func() {
		skipIfOneWay(tg, "concurrent-clients", "stream-concurrent")
		if tg.capacity > 0 && tg.capacity <= concurrentClients {
			capacityWait(tg)
			return
		}
		idle := connect(tg)
		_ = idle
		errs := make([]error, concurrentClients)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := tryConnect(tg)
				if err != nil {
					errs[i] = err
					return
				}
				defer c.Close()
				for j := 0; j < requestsPerClient(tg) && err == nil; j++ {
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
			failf(fmt.Sprintf("all %d clients served while an idle client holds a connection", concurrentClients),
				fmt.Sprintf("%d of them failed; the first: %v", failed, first),
				"the server serves one client at a time (no thread, process or event loop per connection), its pool is smaller than it claims, "+
					"or its listen backlog is too small for clients that connect at once (listen(5): the kernel drops the extra SYNs and the clients retry seconds later)")
		}
	})

	behave(tg, "slow-client", func() {
		skipIfOneWay(tg, "slow-client", "stream-concurrent")
		if tg.capacity == 1 {
			Skip("slow-client needs two clients at once; this server declares a capacity of 1, so a stalled client holds its only slot")
		}
		slow := connect(tg)
		req, m := slow.next()
		half := max(1, len(req)/2)
		if tg.raw() {
			half = len(req) // one send is one message: stall before the next one
		}
		check(slow.Write(req[:half]), "half a request to be sent", "the server closed the connection")
		for i := 0; i < 3; i++ {
			c, err := tryConnect(tg)
			if err == nil {
				err = c.roundtrip()
				c.Close()
			}
			if err != nil {
				failf("other clients answered within "+tg.timeout.String()+" while one client stalls mid-request", err.Error(),
					"the server blocks reading the rest of one client's request (a blocking readline or recv loop inside a single-threaded server)")
			}
		}
		if half < len(req) {
			check(slow.Write(req[half:]), "the rest of the request to be sent", "the server closed the stalled connection")
		}
		check(slow.Expect(m), "the stalled client's answer once its request is whole", "the server lost the first half of the request")
	})
}

// requestsPerClient is how many requests each concurrent client makes: two
// on one connection, or one where the server closes after each answer.
func requestsPerClient(tg *target) int {
	if tg.closesAfterReply() {
		return 1
	}
	return 2
}

// capacityWait checks a server that declares a capacity: client N+1 is not
// refused but waits, and is served once a slot frees.
func capacityWait(tg *target) {
	holders := make([]*client, tg.capacity)
	for i := range holders {
		holders[i] = connect(tg)
		holders[i].mustRoundtrip(fmt.Sprintf("holder %d of the declared capacity %d", i+1, tg.capacity))
	}
	conn, err := wire.Dial(tg.network, tg.addr, tg.timeout)
	check(err, fmt.Sprintf("client %d to connect (and wait) past the declared capacity", tg.capacity+1),
		"the listen backlog is too small, or the server refuses connections past its capacity")
	defer conn.Close()
	extra := &client{Conn: conn, tg: tg, pc: newProtocolClient(tg, protocol.ClientOptions{})}
	req, m := extra.next()
	// The request waits in the socket until the server gets to it.
	check(extra.Write(req), "the waiting client's request to be sent", "the server refused the waiting client")
	check(holders[0].Close(), "a holder to close", "")
	if g := extra.pc.Greeting(); g != nil {
		check(extra.ExpectWithin(g, 2*tg.timeout), fmt.Sprintf("client %d greeted once a slot frees", tg.capacity+1),
			"the server refused or dropped the client that waited past its capacity")
	}
	check(extra.ExpectWithin(m, 2*tg.timeout), fmt.Sprintf("client %d served once a slot frees", tg.capacity+1),
		"the server refused or dropped the client that waited past its capacity, or never reuses a freed slot")
}
