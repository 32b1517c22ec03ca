package reactor_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/reactor"
)

// TestResetClientDropped: a client that resets (SO_LINGER 0) while the
// server owes it a large reply is dropped (ECONNRESET/EPIPE on the write),
// and the other clients do not notice.
func TestResetClientDropped(t *testing.T) {
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, m, targets.Config{})
			other := dial(t, srv)
			ping(t, other, "before")
			bad := dial(t, srv).(*net.TCPConn)
			// Send 2 MiB and read nothing: the echo fills the server's
			// output, then the reset lands on pending writes.
			if _, err := bad.Write(make([]byte, 2<<20)); err != nil {
				t.Fatalf("write: %v", err)
			}
			bad.SetLinger(0)
			bad.Close()
			ping(t, other, "after the reset")
			ping(t, dial(t, srv), "a new client")
		})
	}
}

// TestPoetryTimers: lines come one delay apart (timers are never early),
// then EOF, and three clients are served at once, not one after the other.
// Meanwhile the process is bombarded with signals, so the reactors' waits
// return EINTR, which must only turn the loop again.
func TestPoetryTimers(t *testing.T) {
	const delay = 20 * time.Millisecond
	poem := []string{"one", "two", "three", "four"}
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, m, targets.Config{Protocol: "poetry", Options: protocol.Options{Poem: poem, LineDelay: delay}})
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
						syscall.Kill(os.Getpid(), syscall.SIGURG) // the runtime ignores it
					}
				}
			}()
			type result struct {
				dialed time.Time
				times  []time.Time
				err    error
			}
			results := make([]result, 3)
			var wg sync.WaitGroup
			for i := range results {
				results[i].dialed = time.Now()
				c := dial(t, srv)
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := bufio.NewReader(c)
					for j := 0; ; j++ {
						line, err := r.ReadString('\n')
						if err == io.EOF && line == "" && j == len(poem) {
							return
						}
						if err != nil {
							results[i].err = fmt.Errorf("line %d: %w", j, err)
							return
						}
						if j >= len(poem) || strings.TrimSpace(line) != poem[j] {
							results[i].err = fmt.Errorf("line %d is %q", j, line)
							return
						}
						results[i].times = append(results[i].times, time.Now())
					}
				}()
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("client %d: %v", i, r.err)
				}
				// The server opens the session after the dial started, so
				// line j cannot come before j delays from then: a timer
				// that fires early breaks this.
				for j, at := range r.times {
					if min := time.Duration(j) * delay; at.Sub(r.dialed) < min {
						t.Errorf("client %d: line %d came %v after dialing, want at least %v", i, j, at.Sub(r.dialed), min)
					}
				}
			}
			// Served concurrently: every client's first line came before
			// any client's last line.
			for i, r := range results {
				for k, o := range results {
					if r.times[0].After(o.times[len(o.times)-1]) {
						t.Errorf("client %d's poem started after client %d's ended: clients were served one after the other", i, k)
					}
				}
			}
		})
	}
}

// TestDatagramEcho: the reactor echoes full 64 KiB datagrams and a
// zero-length datagram, which is not a close.
func TestDatagramEcho(t *testing.T) {
	for _, m := range []targets.Model{reactor.SelectModel, reactor.PollModel, reactor.EpollModel} {
		for _, network := range []string{targets.UDP, targets.Unixgram} {
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				srv := start(t, m, targets.Config{Network: network})
				var pc net.PacketConn
				var err error
				big := 65507 // the largest UDP payload over IPv4
				if network == targets.UDP {
					pc, err = net.ListenPacket("udp", "127.0.0.1:0")
				} else {
					big = 65536
					pc, err = net.ListenPacket("unixgram", filepath.Join(t.TempDir(), "client"))
				}
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				pc.SetDeadline(time.Now().Add(deadline))
				buf := make([]byte, 1<<17)
				for _, size := range []int{0, 5, big, 0, 7} {
					msg := protocol.AppendPattern(nil, size, uint64(size))
					if _, err := pc.WriteTo(msg, srv.Addrs()[0]); err != nil {
						t.Fatalf("send %d bytes: %v", size, err)
					}
					n, _, err := pc.ReadFrom(buf)
					if err != nil {
						t.Fatalf("echo of %d bytes: %v", size, err)
					}
					if string(buf[:n]) != string(msg) {
						t.Fatalf("echo of %d bytes: got %d bytes that differ", size, n)
					}
				}
			})
		}
	}
}

// TestPollerWaitEINTR: a signal that interrupts the wait makes Wait return
// no events and no error (the loop turns again); it is never an error.
func TestPollerWaitEINTR(t *testing.T) {
	for _, name := range []string{"select", "poll", "epoll"} {
		t.Run(name, func(t *testing.T) {
			p, err := reactor.NewPoller(name)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			tid := make(chan int)
			type waited struct {
				evs []reactor.Event
				err error
			}
			done := make(chan waited)
			go func() {
				// Pin the goroutine so that the signal reaches the very
				// thread blocked in the wait.
				runtimeLock()
				tid <- unix.Gettid()
				evs, err := p.Wait(deadline, nil)
				done <- waited{evs, err}
			}()
			id := <-tid
			for {
				unix.Tgkill(os.Getpid(), id, unix.SIGURG)
				select {
				case w := <-done:
					if w.err != nil {
						t.Fatalf("Wait after a signal: %v, want no error", w.err)
					}
					if len(w.evs) != 0 {
						t.Fatalf("Wait after a signal: %v, want no events", w.evs)
					}
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		})
	}
}

// TestPollerWake: Wake from another goroutine ends a Wait without limit.
func TestPollerWake(t *testing.T) {
	for _, name := range []string{"select", "poll", "epoll"} {
		t.Run(name, func(t *testing.T) {
			p, err := reactor.NewPoller(name)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			go p.Wake()
			if evs, err := p.Wait(-1, nil); err != nil || len(evs) != 0 {
				t.Fatalf("Wait: %v %v, want no events and no error", evs, err)
			}
		})
	}
}

// TestSelectRefusesLargeFd: select(2) cannot watch a descriptor ≥ 1024.
func TestSelectRefusesLargeFd(t *testing.T) {
	p, err := reactor.NewSelect()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(1024, reactor.Readable); !errors.Is(err, reactor.ErrTooManyFds) {
		t.Fatalf("Add(1024): %v, want ErrTooManyFds", err)
	}
}

// emfileEnv names the model a re-executed test binary serves under a low
// file limit (see TestMain).
const emfileEnv = "REACTOR_TEST_EMFILE_MODEL"

func TestMain(m *testing.M) {
	if name := os.Getenv(emfileEnv); name != "" {
		os.Exit(emfileChild(name))
	}
	os.Exit(m.Run())
}

// emfileChild serves echo with the soft file limit just above the
// descriptors already open, prints the address, and serves until stdin
// closes.
func emfileChild(name string) int {
	var model targets.Model
	for _, m := range models {
		if m.Name == name {
			model = m
		}
	}
	srv, err := model.Start(targets.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lim := unix.Rlimit{Cur: uint64(len(fds) + 2), Max: 0}
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &old)
	lim.Max = old.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on tcp %s\n", srv.Addrs()[0])
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestEMFILEOnAccept: with the file limit exhausted, accept fails with
// EMFILE; the server backs off, keeps serving the connections it has, and
// serves a waiting client once some close.
func TestEMFILEOnAccept(t *testing.T) {
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), emfileEnv+"="+m.Name)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on tcp ")
			if err != nil || !ok {
				t.Fatalf("child said %q, %v", line, err)
			}
			const n = 8
			conns := make([]net.Conn, n)
			for i := range conns {
				if conns[i], err = net.DialTimeout("tcp", addr, deadline); err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				defer conns[i].Close()
				fmt.Fprintf(conns[i], "%02d", i)
			}
			// Which clients were accepted? The others wait in the backlog.
			answered := make([]bool, n)
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.SetReadDeadline(time.Now().Add(time.Second))
					b := make([]byte, 2)
					_, err := io.ReadFull(c, b)
					answered[i] = err == nil && string(b) == fmt.Sprintf("%02d", i)
				}()
			}
			wg.Wait()
			var served []net.Conn
			var waiting []int
			for i, c := range conns {
				if answered[i] {
					served = append(served, c)
				} else {
					waiting = append(waiting, i)
				}
			}
			if len(served) == 0 || len(waiting) == 0 {
				t.Fatalf("%d clients served, %d waiting: the lowered file limit should let some in and hold others", len(served), len(waiting))
			}
			for _, c := range served {
				c.SetDeadline(time.Now().Add(deadline))
				ping(t, c, "still served")
			}
			// Each client that leaves frees a descriptor, so every waiting
			// client must be served in turn. Which one is next is not the
			// server's to promise: under reuseport the waiting clients sit
			// in different listeners' queues, and whichever reactor's
			// back-off ends first takes the freed descriptors. So the test
			// reads all of them, takes whichever answers, and closes it to
			// let the next one in.
			for _, c := range served {
				c.Close()
			}
			type answer struct {
				i   int
				msg string
				err error
			}
			answers := make(chan answer, len(waiting))
			for _, i := range waiting {
				conns[i].SetReadDeadline(time.Now().Add(deadline))
				go func() {
					b := make([]byte, 2)
					_, err := io.ReadFull(conns[i], b)
					answers <- answer{i, string(b), err}
				}()
			}
			for range waiting {
				a := <-answers
				if a.err != nil {
					t.Fatalf("waiting client %d was not served after others closed: %v", a.i, a.err)
				}
				if want := fmt.Sprintf("%02d", a.i); a.msg != want {
					t.Fatalf("waiting client %d: echo %q, want %q", a.i, a.msg, want)
				}
				c := conns[a.i]
				c.SetDeadline(time.Now().Add(deadline))
				ping(t, c, "served at last")
				c.Close()
				// The next client is due within a back-off of this
				// close, not of the first.
				for _, i := range waiting {
					conns[i].SetReadDeadline(time.Now().Add(deadline))
				}
			}
		})
	}
}
