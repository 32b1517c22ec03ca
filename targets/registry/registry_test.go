package registry_test

// The behaviour every reference model must get right, run against every
// model of the registry over every network it serves: the models added
// later get the same tests for free. Each test starts the real server on
// port 0 (or a temporary Unix path) and talks to it with a real client.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/fork"
	"github.com/socklab/socklab/targets/registry"
)

// ioTimeout bounds every client read and write: generous, because the
// machine running the tests may be loaded.
const ioTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	// The fork model re-executes this test binary for each connection.
	fork.Child()
	if spec, ok := os.LookupEnv(envEMFILE); ok {
		os.Exit(emfileChild(spec))
	}
	// The subtests spend most of their time waiting on the network, on
	// child processes and on back-off timers, not on the CPU: unless told
	// otherwise, run more of them at once than the default GOMAXPROCS.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// forEachStream runs fn as a parallel subtest for every model and stream
// network it serves, with a server of proto started from cfg.
func forEachStream(t *testing.T, proto string, cfg targets.Config, fn func(t *testing.T, m targets.Model, srv targets.Server)) {
	t.Helper()
	needProtocol(t, proto)
	for _, m := range registry.Models() {
		for _, network := range []string{targets.TCP, targets.Unix} {
			if !m.Serves(network) {
				continue
			}
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				c := cfg
				c.Network, c.Protocol = network, proto
				if network == targets.TCP && len(c.Listen) == 0 {
					c.Listen = []string{privateLoopback() + ":0"}
				}
				fn(t, m, start(t, m, c))
			})
		}
	}
}

var loopbackSeq atomic.Uint32

// privateLoopback returns a loopback address of this test binary's own
// (127.0.0.0/8 is all loopback on Linux): a port that one parallel subtest
// closes and another reuses on 127.0.0.1 can then never be mistaken for the
// first one's listener.
func privateLoopback() string {
	n := loopbackSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 10+n/(254*256)%200, n/254%256, 1+n%254)
}

// needProtocol skips a test whose protocol is not registered yet, saying so.
func needProtocol(t *testing.T, name string) {
	t.Helper()
	if _, err := protocol.Lookup(name); err != nil {
		t.Skipf("protocol %s is not registered: %v", name, err)
	}
}

func start(t *testing.T, m targets.Model, cfg targets.Config) targets.Server {
	t.Helper()
	srv, err := m.Start(cfg)
	if err != nil {
		t.Fatalf("start %s over %s: %v", m.Name, cfg.Network, err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// dial connects to the server's first listener with deadlines set.
func dial(t *testing.T, srv targets.Server) net.Conn {
	t.Helper()
	return dialWith(t, srv, net.Dialer{})
}

func dialWith(t *testing.T, srv targets.Server, d net.Dialer) net.Conn {
	t.Helper()
	a := srv.Addrs()[0]
	d.Timeout = ioTimeout
	c, err := d.Dial(a.Network(), a.String())
	if err != nil {
		t.Fatalf("dial %s %s: %v", a.Network(), a, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioTimeout))
	return c
}

func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("half-close: %v", err)
	}
}

// readN reads exactly n bytes.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: got %q: %v", n, b, err)
	}
	return b
}

func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	if got := string(readN(t, c, len(want))); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// roundTrip checks that the echo server answers one request on c.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	expect(t, c, msg)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestEchoHalfCloseReturnsEveryByteThenEOF(t *testing.T) {
	forEachStream(t, "echo", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		payload := random(1 << 20)
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(payload)
			if err == nil {
				err = c.(interface{ CloseWrite() error }).CloseWrite()
			}
			werr <- err
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read after %d bytes: %v (want every byte, then EOF)", len(got), err)
		}
		if err := <-werr; err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("echo returned %d bytes, want the %d sent, in order", len(got), len(payload))
		}
	})
}

func TestEchoPartialWritesCompleted(t *testing.T) {
	// A client with a small receive buffer that reads in small pieces
	// makes the server's writes partial: every byte must still arrive.
	const size = 8 << 20
	forEachStream(t, "echo", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dialWith(t, srv, net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(err, serr)
		}})
		payload := random(size)
		go func() {
			c.Write(payload)
			c.(interface{ CloseWrite() error }).CloseWrite()
		}()
		h := sha256.New()
		buf := make([]byte, 4096)
		total := 0
		for {
			n, err := c.Read(buf)
			h.Write(buf[:n])
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read after %d of %d bytes: %v", total, size, err)
			}
		}
		if want := sha256.Sum256(payload); total != size || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("got %d bytes (sha256 %x), want %d (sha256 %x): a partial write was dropped", total, h.Sum(nil), size, want)
		}
	})
}

func TestResetMidReplyDoesNotStopServer(t *testing.T) {
	forEachStream(t, "echo", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		go c.Write(random(4 << 20)) // fails once the connection is reset
		readN(t, c, 1)              // the server is mid-reply
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close sends RST
		}
		// On a Unix socket, closing with unread input resets the peer.
		c.Close()
		next := dial(t, srv)
		roundTrip(t, next, "still serving\n")
	})
}

func TestCapacityClientPastItWaits(t *testing.T) {
	cfg := targets.Config{Workers: 2, MaxConns: 2}
	forEachStream(t, "echo", cfg, func(t *testing.T, m targets.Model, srv targets.Server) {
		c := cfg
		c.Network = srv.Addrs()[0].Network()
		capacity := m.Capacity(c)
		if capacity == 0 || capacity > 4 {
			t.Skipf("%s declares capacity %d under workers=2 max-conns=2: nothing to wait for", m.Name, capacity)
		}
		served := make([]net.Conn, capacity)
		for i := range served {
			served[i] = dial(t, srv)
			roundTrip(t, served[i], fmt.Sprintf("client %d\n", i))
		}
		late := dial(t, srv)
		if _, err := io.WriteString(late, "late\n"); err != nil {
			t.Fatalf("client past capacity: write: %v", err)
		}
		// Not answered while every slot is busy, yet not refused either.
		late.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := late.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("client %d of capacity %d: read %d bytes, %v; want no answer until a slot frees", capacity+1, capacity, n, err)
		}
		// Free one slot in order; the waiting client is then served.
		closeWrite(t, served[0])
		if rest, err := io.ReadAll(served[0]); err != nil || len(rest) != 0 {
			t.Fatalf("closing client: read %q, %v; want EOF", rest, err)
		}
		served[0].Close()
		late.SetReadDeadline(time.Now().Add(ioTimeout))
		expect(t, late, "late\n")
	})
}

func TestHelloFragmentedLineGetsOneReply(t *testing.T) {
	forEachStream(t, "hello", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		expect(t, c, "Welcome!\n")
		io.WriteString(c, "Mich")
		// No reply to half a line: a server that takes one recv as one
		// message answers "Hello, Mich!" here.
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if b, err := c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("after %q: read %d bytes, %v; want nothing until the line ends", "Mich", b, err)
		}
		c.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(c, "ael\n")
		expect(t, c, "Hello, Michael!\n")
		io.WriteString(c, "exit\n")
		rest, err := io.ReadAll(c)
		if err != nil || len(rest) != 0 {
			t.Fatalf("after exit: read %q, %v; want EOF and nothing more", rest, err)
		}
	})
}

func TestHelloExitClosesInOrder(t *testing.T) {
	forEachStream(t, "hello", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		io.WriteString(c, "exit\n")
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("after exit: read %q, then %v; want an orderly close (EOF), not a reset", got, err)
		}
		if string(got) != "Welcome!\n" {
			t.Fatalf("got %q, want %q then EOF", got, "Welcome!\n")
		}
	})
}

func TestCloseWithUnreadInputKeepsReply(t *testing.T) {
	// The client sends exit followed by more than the server reads in one
	// go, in one write. A server that closes with that input unread sends
	// RST, and the client's kernel then discards the reply it has not yet
	// read: the client sees ECONNRESET instead of the reply and EOF.
	junk := bytes.Repeat([]byte(strings.Repeat("x", 79)+"\n"), 4096) // 320 KiB
	forEachStream(t, "hello", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		msg := append([]byte("Michael\nexit\n"), junk...)
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
		// Let the server act on exit before reading, so that a reset has
		// arrived by the time the reply would be read.
		if err := <-werr; err != nil {
			t.Fatalf("write: %v (the server stopped reading: no drain after its FIN)", err)
		}
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read %q, then %v; want the reply and EOF: the server closed with unread input", got, err)
		}
		if want := "Welcome!\nHello, Michael!\n"; string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// forEachDatagram runs fn for every model serving a datagram network.
func forEachDatagram(t *testing.T, fn func(t *testing.T, srv targets.Server, client net.PacketConn)) {
	for _, m := range registry.Models() {
		for _, network := range []string{targets.UDP, targets.Unixgram} {
			if !m.Serves(network) {
				continue
			}
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				srv := start(t, m, targets.Config{Network: network, Protocol: "echo"})
				fn(t, srv, listenClient(t, network))
			})
		}
	}
}

// listenClient opens a datagram client socket; a unixgram client binds its
// own path, or the server has no address to answer.
func listenClient(t *testing.T, network string) net.PacketConn {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == targets.Unixgram {
		addr = filepath.Join(t.TempDir(), "client")
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatalf("client: listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	pc.SetDeadline(time.Now().Add(ioTimeout))
	return pc
}

// exchange sends msg to the server and returns the datagram that comes back.
func exchange(t *testing.T, srv targets.Server, pc net.PacketConn, msg []byte) []byte {
	t.Helper()
	if _, err := pc.WriteTo(msg, srv.Addrs()[0]); err != nil {
		t.Fatalf("send %d bytes: %v", len(msg), err)
	}
	buf := make([]byte, 1<<17)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("receive the echo of %d bytes: %v", len(msg), err)
	}
	return buf[:n]
}

func TestDatagramLargestComesBackWhole(t *testing.T) {
	const size = 65507 // the largest UDP payload over IPv4
	forEachDatagram(t, func(t *testing.T, srv targets.Server, pc net.PacketConn) {
		msg := random(size)
		if got := exchange(t, srv, pc, msg); !bytes.Equal(got, msg) {
			t.Fatalf("echo of a %d-byte datagram: got %d bytes, want it whole and equal", size, len(got))
		}
	})
}

func TestDatagramZeroLengthDoesNotStopServer(t *testing.T) {
	forEachDatagram(t, func(t *testing.T, srv targets.Server, pc net.PacketConn) {
		if got := exchange(t, srv, pc, nil); len(got) != 0 {
			t.Fatalf("echo of a zero-length datagram: got %d bytes", len(got))
		}
		if got := exchange(t, srv, pc, []byte("after")); string(got) != "after" {
			t.Fatalf("after a zero-length datagram: got %q, want %q", got, "after")
		}
	})
}

func TestDatagramGonePeerDoesNotStopServer(t *testing.T) {
	forEachDatagram(t, func(t *testing.T, srv targets.Server, pc net.PacketConn) {
		gone := listenClient(t, pc.LocalAddr().Network())
		if _, err := gone.WriteTo([]byte("bye"), srv.Addrs()[0]); err != nil {
			t.Fatalf("send: %v", err)
		}
		// The reply finds no socket (ECONNREFUSED, or ENOENT for a
		// unixgram path removed with it).
		gone.Close()
		if ua, ok := gone.LocalAddr().(*net.UnixAddr); ok {
			os.Remove(ua.Name)
		}
		if got := exchange(t, srv, pc, []byte("next")); string(got) != "next" {
			t.Fatalf("after a gone peer: got %q, want %q", got, "next")
		}
	})
}

// The EMFILE test runs a server in a child process (this test binary,
// re-executed) whose descriptor limit is low, floods it with connections
// until accept fails with EMFILE, releases them, and checks that a new
// client is then served.

const (
	envEMFILE  = "SOCKLAB_TEST_EMFILE"
	emfileMax  = 64  // the child's RLIMIT_NOFILE
	emfileConn = 100 // connections opened at once, past the limit
)

// emfileChild serves spec ("MODEL NETWORK MAXCONNS") under a low
// descriptor limit, prints its address and serves until its standard input
// closes.
func emfileChild(spec string) int {
	var model, network string
	var maxConns int
	if _, err := fmt.Sscan(spec, &model, &network, &maxConns); err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", envEMFILE, spec, err)
		return 1
	}
	m, err := registry.Lookup(model)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lim := syscall.Rlimit{Cur: emfileMax, Max: emfileMax}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	srv, err := m.Start(targets.Config{Network: network, Protocol: "echo", MaxConns: maxConns, Log: stderrLog()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(srv.Addrs()[0])
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	return 0
}

func TestEMFILEBacksOffAndKeepsServing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range registry.Models() {
		if !m.Serves(targets.TCP) {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			// A model that keeps each connection's descriptor in the
			// server process runs out of them. One that serves one client
			// at a time (iterative) or hands each connection to a child
			// process (fork) cannot: there is no EMFILE to provoke.
			if m.Name == "iterative" || m.Name == "fork" {
				t.Skipf("%s holds one connection at a time or none in the server process: it cannot reach EMFILE", m.Name)
			}
			// A cap above the flood, so that the thread model runs out
			// of descriptors before threads.
			maxConns := 2 * emfileConn
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", envEMFILE, m.Name, targets.TCP, maxConns))
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				stdin.Close()
				select {
				case <-exited:
				case <-time.After(ioTimeout):
					cmd.Process.Kill()
					<-exited
				}
			})
			backoff := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				seen := false
				for sc.Scan() {
					if !seen && strings.Contains(sc.Text(), "backing off") {
						seen = true
						close(backoff)
					}
				}
			}()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("child: read its address: %v", err)
			}
			addr := strings.TrimSpace(line)
			var flood []net.Conn
			defer func() {
				for _, c := range flood {
					c.Close()
				}
			}()
			for range emfileConn {
				c, err := net.DialTimeout(targets.TCP, addr, ioTimeout)
				if err != nil {
					t.Fatalf("flood: dial %s: %v", addr, err)
				}
				flood = append(flood, c)
			}
			select {
			case <-backoff:
			case <-time.After(ioTimeout):
				t.Fatalf("%d connections to a server limited to %d descriptors: no accept back-off logged", emfileConn, emfileMax)
			}
			for _, c := range flood {
				c.Close()
			}
			flood = nil
			c, err := net.DialTimeout(targets.TCP, addr, ioTimeout)
			if err != nil {
				t.Fatalf("after the flood: dial: %v", err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(ioTimeout))
			roundTrip(t, c, "served after EMFILE\n")
		})
	}
}

func stderrLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// forEachFileServer runs fn, in parallel subtests, against every model
// serving the file protocol over a fresh root directory, on every stream
// network it serves; capacity is how many connections the model serves at
// once.
func forEachFileServer(t *testing.T, fn func(t *testing.T, srv targets.Server, root string, capacity int)) {
	needProtocol(t, "file")
	for _, m := range registry.Models() {
		for _, network := range []string{targets.TCP, targets.Unix} {
			if !m.Serves(network) {
				continue
			}
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				cfg := targets.Config{Network: network, Protocol: "file", Options: protocol.Options{Root: root}}
				fn(t, start(t, m, cfg), root, m.Capacity(cfg))
			})
		}
	}
}

// readLine reads one reply line of the file protocol, newline included.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a reply line: got %q: %v", line, err)
	}
	return line
}

func TestFilePutThenGetReturnsIdenticalBytes(t *testing.T) {
	sizes := []int{0, 1, 4095, 4096, 4097, 10 << 20}
	forEachFileServer(t, func(t *testing.T, srv targets.Server, _ string, _ int) {
		c := dial(t, srv)
		r := bufio.NewReader(c)
		for _, size := range sizes {
			name := fmt.Sprintf("f%d", size)
			data := random(size)
			fmt.Fprintf(c, "put>%s>%d\n", name, size)
			if line := readLine(t, r); line != "ok\n" {
				t.Fatalf("put %s: reply %q, want %q", name, line, "ok\n")
			}
			if _, err := c.Write(data); err != nil {
				t.Fatalf("put %s: write %d bytes: %v", name, size, err)
			}
			// Lock-step: the get is read only after the put's bytes.
			fmt.Fprintf(c, "get>%s\n", name)
			if line, want := readLine(t, r), fmt.Sprintf("yes:%d\n", size); line != want {
				t.Fatalf("get %s: reply %q, want %q", name, line, want)
			}
			io.WriteString(c, "ok\n")
			h := sha256.New()
			if n, err := io.CopyN(h, r, int64(size)); err != nil {
				t.Fatalf("get %s: read %d of %d bytes: %v", name, n, size, err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("get %s: sha256 %x, want %x (the bytes put)", name, h.Sum(nil), want)
			}
		}
	})
}

func TestFileNameOutsideRootRefused(t *testing.T) {
	forEachFileServer(t, func(t *testing.T, srv targets.Server, root string, _ int) {
		// A file beside the root, which ../ would reach.
		outside := filepath.Join(filepath.Dir(root), filepath.Base(root)+"-secret")
		if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(outside) })
		c := dial(t, srv)
		r := bufio.NewReader(c)
		fmt.Fprintf(c, "get>../%s\n", filepath.Base(outside))
		if line := readLine(t, r); !strings.HasPrefix(line, "no") {
			t.Fatalf("get of a name outside the root: reply %q, want a refusal starting with no", line)
		}
		// The connection stays usable after a refusal.
		fmt.Fprintf(c, "put>x>1\n")
		if line := readLine(t, r); line != "ok\n" {
			t.Fatalf("put after a refusal: reply %q, want %q", line, "ok\n")
		}
	})
}

func TestFileCutUploadLeavesNothing(t *testing.T) {
	forEachFileServer(t, func(t *testing.T, srv targets.Server, root string, _ int) {
		c := dial(t, srv)
		r := bufio.NewReader(c)
		io.WriteString(c, "put>cut>1000000\n")
		if line := readLine(t, r); line != "ok\n" {
			t.Fatalf("put: reply %q, want %q", line, "ok\n")
		}
		c.Write(random(4096))
		// The upload ends with the connection, 4096 bytes of 1 000 000 in.
		closeWrite(t, c)
		if rest, err := io.ReadAll(r); err != nil {
			t.Fatalf("after cutting the upload: read %q, %v; want EOF", rest, err)
		}
		if _, err := os.Stat(filepath.Join(root, "cut")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("after a cut upload, stat of its name: %v; want no such file", err)
		}
		next := dial(t, srv)
		io.WriteString(next, "get>cut\n")
		if line := readLine(t, bufio.NewReader(next)); !strings.HasPrefix(line, "no") {
			t.Fatalf("get of a cut upload: reply %q, want a refusal", line)
		}
	})
}

// TestFileGetOfFIFORefusedPromptly: a FIFO in the root is not served. Opening
// one for reading waits for a writer: done on a reactor's loop, it froze every
// client of the server. The get must be refused at once, and another client
// served beside the one that asked (after it, for a model of capacity 1).
func TestFileGetOfFIFORefusedPromptly(t *testing.T) {
	const prompt = 5 * time.Second
	forEachFileServer(t, func(t *testing.T, srv targets.Server, root string, capacity int) {
		fifo := filepath.Join(root, "fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		if err := os.WriteFile(filepath.Join(root, "plain"), []byte("plain"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Runs before the server's Close: a server stuck opening the
		// FIFO is let go, so that a failure ends.
		t.Cleanup(func() {
			if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
				f.Close()
			}
		})
		a := dial(t, srv)
		a.SetDeadline(time.Now().Add(prompt))
		io.WriteString(a, "get>fifo\n")
		if line := readLine(t, bufio.NewReader(a)); !strings.HasPrefix(line, "no") {
			t.Fatalf("get of a FIFO: reply %q, want a refusal starting with no", line)
		}
		if capacity == 1 {
			a.Close()
		}
		b := dial(t, srv)
		b.SetDeadline(time.Now().Add(prompt))
		io.WriteString(b, "get>plain\nok\n")
		r := bufio.NewReader(b)
		if line := readLine(t, r); line != "yes:5\n" {
			t.Fatalf("get of a regular file beside it: reply %q, want yes:5", line)
		}
	})
}

func TestCloseWithLiveClientReturnsAndReleases(t *testing.T) {
	forEachStream(t, "hello", targets.Config{}, func(t *testing.T, _ targets.Model, srv targets.Server) {
		c := dial(t, srv)
		expect(t, c, "Welcome!\n") // the connection is being served
		closed := make(chan struct{})
		go func() {
			srv.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(ioTimeout):
			t.Fatal("Close did not return with a client connected")
		}
		// The server's side of the connection is gone: EOF or a reset,
		// never a hang.
		if b, err := io.ReadAll(c); err == nil && len(b) != 0 {
			t.Fatalf("after Close: read %q", b)
		}
		// The listener is closed. Another subtest of this process may be
		// starting a fork child right now: between its fork and its exec
		// the child holds a copy of every descriptor, close-on-exec ones
		// included, so a listener can outlive Close by that long. Dials
		// must be refused once no such copy is left, well within a second.
		a := srv.Addrs()[0]
		deadline := time.Now().Add(2 * time.Second)
		for {
			c2, err := net.DialTimeout(a.Network(), a.String(), time.Second)
			if err != nil {
				break
			}
			c2.Close()
			if time.Now().After(deadline) {
				t.Fatalf("dial %s still succeeds 2s after Close; want the listener closed", a)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestRegistryRefusesUnservedNetworks: the registry, not each model, refuses
// a network a model does not serve, with ErrUnsupported.
func TestRegistryRefusesUnservedNetworks(t *testing.T) {
	for _, m := range registry.Models() {
		for _, network := range []string{targets.TCP, targets.Unix, targets.UDP, targets.Unixgram} {
			if m.Serves(network) {
				continue
			}
			srv, err := m.Start(targets.Config{Network: network, Protocol: "echo"})
			if err == nil {
				srv.Close()
				t.Errorf("%s over %s: started, want ErrUnsupported", m.Name, network)
				continue
			}
			if !errors.Is(err, targets.ErrUnsupported) {
				t.Errorf("%s over %s: %v, want ErrUnsupported", m.Name, network, err)
			}
		}
	}
}

// TestModelsRefuseWhatTheyCannotHold: a cap or a worker count past what a
// model can hold is refused by Start at once, with ErrLimit, before anything
// is made: a million pool workers took 2.7 GB and 6 s, and a thread cap of
// 20 000 ended in "fatal error: thread exhaustion" at 10 500 clients. The
// limits themselves are accepted.
func TestModelsRefuseWhatTheyCannotHold(t *testing.T) {
	tests := []struct {
		model string
		cfg   targets.Config
		ok    bool
	}{
		{model: "pool", cfg: targets.Config{Workers: 1_000_000}},
		{model: "pool", cfg: targets.Config{Workers: 10_000}, ok: true},
		{model: "reactor-pool", cfg: targets.Config{Workers: 1_000_000}},
		{model: "reactor-pool", cfg: targets.Config{Workers: 1024}, ok: true},
		{model: "reuseport", cfg: targets.Config{Workers: 1_000_000}},
		{model: "thread", cfg: targets.Config{MaxConns: 20_000}},
		{model: "thread", cfg: targets.Config{MaxConns: 9000}, ok: true},
		{model: "fork", cfg: targets.Config{MaxConns: 20_000}},
		{model: "fork", cfg: targets.Config{MaxConns: 1024}, ok: true},
		{model: "pool", cfg: targets.Config{Workers: -1}},
		{model: "thread", cfg: targets.Config{MaxConns: -1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/workers=%d/max-conns=%d", tt.model, tt.cfg.Workers, tt.cfg.MaxConns), func(t *testing.T) {
			m, err := registry.Lookup(tt.model)
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			srv, err := m.Start(tt.cfg)
			if err == nil {
				srv.Close()
			}
			switch {
			case tt.ok && err != nil:
				t.Fatalf("Start at the model's limit: %v", err)
			case !tt.ok && err == nil:
				t.Fatal("Start accepted a configuration past what the model can hold")
			case !tt.ok && tt.cfg.Workers >= 0 && tt.cfg.MaxConns >= 0 && !errors.Is(err, targets.ErrLimit):
				t.Fatalf("Start: %v; want an error wrapping ErrLimit", err)
			case !tt.ok && time.Since(begin) > time.Second:
				t.Fatalf("refused after %v; want at once, before anything is made", time.Since(begin))
			}
			if err := m.Check(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("Check: %v, want ok %v as Start", err, tt.ok)
			}
		})
	}
}
