package catalog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// Pressure sizes.
const (
	// slowClientsCount clients stall mid-request in slow-clients, as
	// slowhttptest's slowloris mode holds connections: a few hundred
	// take every thread of a server with a bounded pool.
	slowClientsCount = 200
	slowClientsShort = 20
	// openParallel is how many clients slow-clients and slow-reader
	// connect at a time: they are about clients that hold connections,
	// not a burst of connects (accept-burst is), so they never overflow
	// a small listen backlog.
	openParallel = 8

	// slowReaders clients ask for large replies and do not read them.
	slowReaders      = 16
	slowReadersRef   = 8
	slowReadersShort = 4
	// readerPush is what an echo client that does not read sends at most
	// (a client of another protocol sends pipelinedPush of pipelined
	// requests, whose replies are as large or larger):
	// far more than a bounded server buffers for it (the reference
	// models stop reading a connection whose output holds 1 MiB), so a
	// server that reads it all and queues the echo grows by readerPush.
	readerPush    = 16 << 20
	pipelinedPush = 2 << 20
	pushChunk     = 256 << 10
	// pushStall is the least time a push may make no progress before the
	// server counts as no longer reading it; the window is half the
	// timeout when that is longer. A shorter one mistakes a server that
	// the machine's load paused for one that stopped reading, and a
	// server that queues without bound then passes with what it read
	// before the pause.
	pushStall = 100 * time.Millisecond
	// rssPerReader is slow-reader's bound on the server's RSS growth, per
	// client that does not read.
	rssPerReader = 4 << 20

	// burstSize connections open at once in accept-burst.
	burstSize      = 1000
	burstSizeShort = 50
	// A burst's clients read little at a time and stop a reply past
	// burstReplyMax: a thousand of them hold a few MiB.
	burstReadSize = 4 << 10
	burstReplyMax = 16 << 10
	// burstConnectWait is how long each connect of the burst may take.
	// On loopback a connect completes at once unless the server's kernel
	// dropped its SYN because the listen backlog was full; the client
	// sends it again 1 s later, then 3 s, then 7 s. One retransmission
	// misses a should; two, a must (synRetransmits counts them); a
	// connect still pending at 4 s has lost its SYN three times.
	burstConnectWait = 4 * time.Second
	// burstBudget bounds the whole burst. A server that still serves
	// steadily when it passes (one client at a time, a process per
	// connection) passes: its clients wait their turn, and how fast their
	// turns come is a load test's business.
	burstBudget = 10 * time.Second
)

// pressureSpecs: many clients pressing on the server at once: a burst of
// connections, clients that stall mid-request (slowloris), clients that do
// not read their replies. They run last: each opens hundreds of
// connections, and a server they exhaust fails them, not the behaviours
// after them. Each is not run when a behaviour before it failed on a defect
// that decides it too (skipAfterFailure). accept-burst comes first: the
// clients of the other two connect faster than a slow accept loop takes
// them, which a small backlog cannot hold either.
func init() {
	behave("slow-clients", func(s *spec) {
		skipIfOneWay(s, "slow-clients", "stream-concurrent")
		skipAfterFailure(s, "concurrent-clients", "slow-client", "accept-burst")
		n := slowClientsCount
		if s.short() {
			n = slowClientsShort
			s.note("clients", fmt.Sprintf("%d stalled clients: clients held at once belong to the model, whose echo target runs the full %d", n, slowClientsCount))
		}
		if n = heldBeside(s, n); n == 0 {
			s.skip("slow-clients needs a slot beside the stalled clients; this server declares a capacity of 1")
		}
		dial := func() (*wire.Conn, error) { return wire.Dial(s.Network, s.Addr, s.Timeout) }
		held, err := openHeld(s, n, dial, func(c *client) error {
			req, _ := c.next()
			half := max(1, len(req)/2)
			if s.raw() {
				half = len(req) // one send is one message: stall before the next one
			}
			return c.Write(req[:half])
		})
		if err != nil {
			s.note("stalled", fmt.Sprintf("%d of %d clients stalled; the next could not: %v", held, n, err))
		}
		freshServed(s, fmt.Sprintf("%d clients each hold half a request", held),
			"every stalled client holds a thread or a worker (a bounded pool, a cap on threads), or one loop blocks reading one of them: this is slowloris, and a few hundred clients are enough")
	})

	behave("slow-reader", func(s *spec) {
		skipIfOneWay(s, "slow-reader", "stream-complete")
		skipAfterFailure(s, "concurrent-clients", "slow-client", "accept-burst", "slow-clients")
		var push []byte
		switch {
		case s.Protocol == "echo":
			push = protocol.AppendPattern(nil, readerPush, 5)
		case s.Protocol == "file":
		case s.raw():
			s.skip("slow-reader needs large replies; under raw framing only echo and file can be asked for one in one message")
		default:
			// Pipelined requests, over and over: their replies (as
			// large as the requests or larger) exceed the socket
			// buffers. A reference target gets one batch: the model's
			// sends are its echo target's business, and millions of
			// short requests cost seconds.
			batch, _, _ := pipelineBatch(s)
			for len(push) < pipelinedPush || push == nil {
				push = append(push, batch...)
				if s.short() {
					break
				}
			}
		}
		n := slowReaders
		switch {
		case s.short():
			n = slowReadersShort
			s.note("clients", fmt.Sprintf("%d clients: clients held at once belong to the model, whose echo target runs %d", n, slowReadersRef))
		case !s.External:
			n = slowReadersRef
			s.note("clients", fmt.Sprintf("%d clients, not %d: a reference target's memory is not measured (it runs in this process), and %d clients stuck in send() already show a model that blocks in it", n, slowReaders, n))
		}
		if n = heldBeside(s, n); n == 0 {
			s.skip("slow-reader needs a slot beside the clients that do not read; this server declares a capacity of 1")
		}
		before, rssErr := s.rss()
		deadline := time.Now().Add(4 * s.Timeout)
		var mu sync.Mutex
		pushed := 0
		ends := map[string]int{}
		// A reader with a small receive window, as a slow client on a
		// slow link has: the server's sends stall at once, and a bounded
		// server stops reading it after a few hundred KiB.
		dial := func() (*wire.Conn, error) {
			return wire.DialSmallBuffer(s.Network, s.Addr, smallRcvBuf, s.Timeout)
		}
		held, err := openHeld(s, n, dial, func(c *client) error {
			if push == nil { // file: a get of the large file, whose bytes are left unread
				size, err := fileGetSize(c, largeName)
				if err != nil {
					return err
				}
				return fileOK(c, size)
			}
			sent, end := pushUntilStalled(c.NetConn(), push, max(pushStall, s.Timeout/2), deadline)
			mu.Lock()
			pushed += sent
			ends[end]++
			mu.Unlock()
			return nil
		})
		if err != nil {
			s.note("not reading", fmt.Sprintf("%d of %d clients asked for their replies; the next could not: %v", held, n, err))
		}
		if push != nil {
			var how []string
			for _, end := range []string{pushStalled, pushDone, pushLate, pushClosed} {
				if ends[end] > 0 {
					how = append(how, fmt.Sprintf("%d %s", ends[end], end))
				}
			}
			s.note("pushed", fmt.Sprintf("%d clients sent %.1f MiB in all (%s)", held, mib(pushed), strings.Join(how, ", ")))
		}
		during, _ := s.rss()
		freshServed(s, fmt.Sprintf("%d clients do not read the large replies they asked for", held),
			"the server blocks in send() to a client that does not read: a blocking sendall in a single-threaded loop, or every worker stuck in one")
		switch {
		case rssErr != nil:
			s.note("rss", "not measured: "+rssErr.Error())
			return
		case during == 0:
			return
		}
		grew, bound := during-before, int64(held)*rssPerReader
		s.note("rss", fmt.Sprintf("%.1f MiB before, %.1f MiB with %d clients not reading (%+.1f MiB; the bound is %d MiB a client, %.0f MiB)",
			mib(before), mib(during), held, mib(grew), rssPerReader>>20, mib(bound)))
		if grew <= bound {
			return
		}
		expected := fmt.Sprintf("the server's RSS to grow by at most %.0f MiB (%d MiB a client) while %d clients do not read", mib(bound), rssPerReader>>20, held)
		actual := fmt.Sprintf("it grew by %.1f MiB, from %.1f to %.1f MiB", mib(grew), mib(before), mib(during))
		switch s.Protocol {
		case "echo":
			s.failf(expected, actual+fmt.Sprintf(", while the clients sent %.1f MiB", mib(pushed)),
				"the server keeps reading from clients that do not read their replies and queues the replies in memory without bound (asyncio's write() without drain(), an output buffer with no high-water mark)")
		case "file":
			s.shouldf(expected, actual, "the server reads the whole file into memory for each get instead of sending it in chunks")
		}
	})

	behave("accept-burst", func(s *spec) {
		skipAfterFailure(s, "concurrent-clients", "stream-concurrent")
		n := burstSize
		if s.short() {
			n = burstSizeShort
			s.note("burst", fmt.Sprintf("%d connections: the accept path belongs to the model, whose echo target runs the full %d (the fork model spends a process per connection, so it runs %d there too)", n, burstSize, n))
		}
		need := n + 64
		if !s.External {
			need += n // the server's ends of the connections are in this process too
		}
		if limit, err := openFileLimit(); err == nil && limit < need {
			s.skip(fmt.Sprintf("accept-burst needs %d descriptors and this process may open %d: raise the limit (ulimit -n $(ulimit -Hn))", need, limit))
		}
		b := runBurst(s, n)
		b.judge(s)
	})
}

// openHeld opens n clients with dial, openParallel at a time, reads their
// greetings and runs hold on each; they stay open until the behaviour ends.
// It stops at the first client that cannot connect, be greeted or be held,
// and returns how many are held and that client's error.
func openHeld(s *spec, n int, dial func() (*wire.Conn, error), hold func(c *client) error) (int, error) {
	var (
		mu    sync.Mutex
		cs    []*client
		held  int
		first error
		wg    sync.WaitGroup
	)
	s.cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			c.Close()
		}
	})
	next := make(chan int)
	for w := 0; w < openParallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, err := greeted(s, dial)
				if err == nil {
					mu.Lock()
					cs = append(cs, c)
					mu.Unlock()
					err = hold(c)
				}
				mu.Lock()
				switch {
				case err == nil:
					held++
				case first == nil:
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return held, first
}

// freshServed checks that a fresh client is served within the timeout
// while the clients of what happen are held.
func freshServed(s *spec, what, cause string) {
	c, err := tryConnect(s)
	if err == nil {
		defer c.Close()
		err = c.roundtrip()
	}
	if err != nil {
		s.failf(fmt.Sprintf("a fresh client served within %v while %s", s.Timeout, what), err.Error(), cause)
	}
}

// How a push ended.
const (
	pushStalled = "were no longer read"
	pushDone    = "sent all they had"
	pushLate    = "were still being read at the deadline"
	pushClosed  = "were closed by the server"
)

// pushUntilStalled writes data to conn in chunks until it is all sent, or
// a write makes no progress for stall (the server stopped reading), or
// the deadline passes. It returns what was sent and how it ended.
func pushUntilStalled(conn net.Conn, data []byte, stall time.Duration, deadline time.Time) (sent int, end string) {
	for sent < len(data) {
		if !time.Now().Before(deadline) {
			return sent, pushLate
		}
		chunk := data[sent:min(len(data), sent+pushChunk)]
		if err := conn.SetWriteDeadline(time.Now().Add(stall)); err != nil {
			return sent, pushClosed
		}
		k, err := conn.Write(chunk)
		sent += k
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if k == 0 {
				return sent, pushStalled
			}
		default:
			return sent, pushClosed
		}
	}
	return sent, pushDone
}

// rss returns the server's resident memory, 0 with no error if no process
// id is known for it.
func (s *spec) rss() (int64, error) {
	switch {
	case s.PID > 0:
		return rss(s.PID)
	case s.External:
		return 0, errors.New("give --pid with the server's process id to bound its memory")
	}
	return 0, errors.New("the reference target runs in this process, whose memory holds the suite's clients too")
}

// rss reads the resident memory of process pid (VmRSS in /proc/PID/status).
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("read the memory of process %d: no VmRSS in /proc/%d/status (a zombie, or not Linux)", pid, pid)
}

// mib is n bytes in MiB.
func mib[T int | int64](n T) float64 { return float64(n) / (1 << 20) }

// burst is the outcome of accept-burst's connections.
type burst struct {
	n        int
	start    time.Time
	end      time.Time
	mu       sync.Mutex
	waiting  map[int]time.Time // connected, not yet answered: since when
	conns    map[int]*wire.Conn
	lastDone time.Time // the last connection served or refused
	aborted  string    // why the clients still waiting were given up
	stalled  bool      // the server served none of them for a timeout

	served, refused  int
	unconnected      int           // connects that did not complete within burstConnectWait
	retransmitted    int           // connects whose SYN was sent again once, then completed
	twice            int           // connects whose SYN was sent again twice or more
	slowestConnect   time.Duration // of those that completed
	unanswered       int           // connected, given up waiting for
	firstRefusal     error
	firstUnconnected error
}

// runBurst opens n connections at once; each does the protocol's first
// exchange (as a connection-churn cycle does) and closes. A watcher gives
// up on the clients still waiting once the server has served none of them
// for a timeout while one has waited longer than that, or at burstBudget.
func runBurst(s *spec, n int) *burst {
	b := &burst{n: n, waiting: map[int]time.Time{}, conns: map[int]*wire.Conn{}}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			b.one(s, i)
		}()
	}
	b.start = time.Now()
	b.lastDone = b.start
	close(gate)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			b.end = time.Now()
			return b
		case now := <-tick.C:
			b.watch(s, now)
		}
	}
}

// one is one connection of the burst.
func (b *burst) one(s *spec, i int) {
	t0 := time.Now()
	conn, err := wire.Dial(s.Network, s.Addr, burstConnectWait)
	took := time.Since(t0)
	retrans := 0
	if err == nil {
		retrans = synRetransmits(conn.NetConn(), took)
	}
	b.mu.Lock()
	switch {
	case isTimeout(err):
		b.unconnected++
		if b.firstUnconnected == nil {
			b.firstUnconnected = err
		}
	case err != nil:
		// Refused: nothing listens, or the kernel or server said no
		// (ECONNREFUSED, a reset, EAGAIN on a full Unix backlog).
		b.refused++
		if b.firstRefusal == nil {
			b.firstRefusal = err
		}
		b.lastDone = time.Now()
	default:
		switch retrans {
		case 0:
		case 1:
			b.retransmitted++
		default:
			b.twice++
		}
		b.slowestConnect = max(b.slowestConnect, took)
		b.waiting[i] = time.Now()
		b.conns[i] = conn
	}
	aborted := b.aborted != ""
	b.mu.Unlock()
	if err != nil {
		return
	}
	defer conn.Close()
	if aborted {
		conn.Close()
	}
	// The per-step wait is the whole budget: the watcher, not a
	// deadline, decides when a client has waited too long.
	conn.Timeout = burstBudget
	conn.ReadSize = burstReadSize
	c := &client{Conn: conn, s: s, pc: newProtocolClient(s, protocol.ClientOptions{})}
	err = exchangeOnce(c)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.waiting, i)
	delete(b.conns, i)
	switch {
	case err == nil:
		b.served++
		b.lastDone = time.Now()
	case b.aborted != "":
		b.unanswered++
	default:
		// The server ended the connection before its answer: a refusal
		// (a server at its descriptor limit closes what it cannot
		// serve), or a wrong answer, which is roundtrip's business.
		b.refused++
		if b.firstRefusal == nil {
			b.firstRefusal = err
		}
		b.lastDone = time.Now()
	}
}

// watch gives up on the clients still waiting once the server stalls: it
// has served or refused none for a timeout while a connected client has
// waited longer than that; or at the budget.
func (b *burst) watch(s *spec, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.aborted != "" {
		return
	}
	oldest := now
	for _, since := range b.waiting {
		if since.Before(oldest) {
			oldest = since
		}
	}
	switch {
	case len(b.waiting) > 0 && now.Sub(oldest) > s.Timeout && now.Sub(b.lastDone) > s.Timeout:
		b.aborted = fmt.Sprintf("the server answered none of them for %v while they waited", now.Sub(b.lastDone).Round(time.Millisecond))
		b.stalled = true
	case now.Sub(b.start) > burstBudget:
		b.aborted = fmt.Sprintf("the burst's budget of %v passed while the server still served them in turn", burstBudget)
	default:
		return
	}
	for _, c := range b.conns {
		c.Close()
	}
}

// exchangeOnce is the protocol's first exchange on c: the greeting and one
// request, or the first message of a one-way stream; a reply longer than
// burstReplyMax is a wrong one (a thousand clients that each collected
// megabytes of a server that sends without end would hold gigabytes).
func exchangeOnce(c *client) error {
	if g := c.pc.Greeting(); g != nil {
		if err := c.Expect(&capped{m: g, max: burstReplyMax}); err != nil {
			return fmt.Errorf("greeting: %w", err)
		}
	}
	if c.s.isOneWay() {
		return c.Expect(&capped{m: protocol.NewMessageMatcher(c.s.framing(), 0), max: burstReplyMax})
	}
	req, m := c.next()
	if err := c.Write(req); err != nil {
		return err
	}
	return c.Expect(&capped{m: m, max: burstReplyMax})
}

// capped is a matcher for which a reply past max bytes is a wrong reply.
type capped struct {
	m      protocol.Matcher
	max, n int
}

func (c *capped) Match(p []byte, eof bool) (int, bool, error) {
	n, done, err := c.m.Match(p, eof)
	c.n += n
	if err == nil && !done && c.n+len(p)-n > c.max {
		return n, false, fmt.Errorf("%w: more than %d bytes", protocol.ErrWrongReply, c.max)
	}
	return n, done, err
}

// Reply passes on what m asks the client to send.
func (c *capped) Reply(dst []byte) []byte { return reply(c.m, dst) }

// judge fails, passes non-strictly or passes the burst.
func (b *burst) judge(s *spec) {
	took := b.end.Sub(b.start).Round(time.Millisecond)
	s.note("burst", fmt.Sprintf("%d connections at once: %d served, %d refused, in %v; the slowest connect took %v", b.n, b.served, b.refused, took, b.slowestConnect.Round(time.Millisecond)))
	if b.firstRefusal != nil {
		s.note("refused", fmt.Sprintf("%d connections ended before their answer; the first: %v", b.refused, b.firstRefusal))
	}
	backlog := "the listen backlog is smaller than the burst (listen(5) and the like, or net.core.somaxconn): the kernel drops the SYNs past it, and each client sends its SYN again 1 s, 3 s, then 7 s later; give listen() a backlog as large as the bursts it must take (SOMAXCONN)"
	switch {
	case b.unconnected+b.twice > 0:
		actual := fmt.Sprintf("%d connects needed their SYN sent a third time (3 s late)", b.twice)
		if b.unconnected > 0 {
			actual = fmt.Sprintf("%d connects did not complete within %v (their SYN dropped three times: %v), %d needed it sent a third time (3 s late)", b.unconnected, burstConnectWait, b.firstUnconnected, b.twice)
		}
		s.failf(fmt.Sprintf("each of %d connects opened at once to complete or be refused with its SYN dropped once at most", b.n),
			fmt.Sprintf("%s and %d a second time (1 s late); %d served, %d refused, %d connected but unanswered",
				actual, b.retransmitted, b.served, b.refused, b.unanswered),
			backlog)
	case b.stalled:
		cause := "the server accepts connections it does not serve: an accept loop that stops, or threads or workers that run out and never free"
		if b.retransmitted+b.twice > 0 {
			cause = backlog + "; a client whose handshake the kernel completed (a SYN cookie) but whose connection did not fit in the backlog waits for its retransmissions too"
		}
		s.failf(fmt.Sprintf("every one of %d connections opened at once served or refused, the server never idle for %v while some wait", b.n, s.Timeout),
			fmt.Sprintf("%d connected clients got no answer: %s (%d served, %d refused; %d connects took a SYN retransmission)", b.unanswered, b.aborted, b.served, b.refused, b.retransmitted),
			cause)
	}
	if b.unanswered > 0 {
		s.note("in turn", fmt.Sprintf("%d clients were still waiting: %s", b.unanswered, b.aborted))
	}
	if b.retransmitted > 0 {
		s.shouldf(fmt.Sprintf("each of %d connects opened at once to complete without a SYN retransmission", b.n),
			fmt.Sprintf("%d needed their SYN sent a second time (1 s late; the slowest connect took %v): the first was dropped", b.retransmitted, b.slowestConnect.Round(time.Millisecond)),
			backlog)
	}
}

// isTimeout reports whether err is a timeout (a dial's, a deadline's).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
