package main

import (
	"bytes"
	"context"
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

	"github.com/socklab/socklab/internal/serveproc"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/broken"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/fork"
	"github.com/socklab/socklab/targets/registry"
)

func TestMain(m *testing.M) {
	// Tests that start the fork model in this process re-execute this
	// test binary for each connection.
	fork.Child()
	// The broken servers whose defect is memory run in a re-executed
	// test binary (see broken.Launch).
	broken.ServeIfChild()
	code := m.Run()
	suite.Remove()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// socklabBinary builds the socklab binary once for the package's tests.
func socklabBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "socklab-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "socklab")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// served is a `socklab serve` process under test.
type served struct {
	*serveproc.Proc
	stderr *bytes.Buffer
}

// startServe runs socklab serve with args and reads its listening lines.
// The process is killed when the test ends.
func startServe(t *testing.T, listeners int, args ...string) *served {
	t.Helper()
	cmd := exec.Command(socklabBinary(t), append([]string{"serve"}, args...)...)
	s := &served{stderr: new(bytes.Buffer)}
	cmd.Stderr = s.stderr
	p, err := serveproc.Start(cmd, listeners, 20*time.Second, nil)
	if err != nil {
		t.Fatalf("socklab serve %s: %v; stderr: %s", strings.Join(args, " "), err, s.stderr)
	}
	s.Proc = p
	t.Cleanup(p.Kill)
	return s
}

// stop sends SIGTERM and checks for a graceful exit 0.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.Signal(syscall.SIGTERM)
	select {
	case <-s.Exited():
		if s.Err() != nil {
			t.Fatalf("after SIGTERM: %v, want exit 0; stderr: %s", s.Err(), s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGTERM")
	}
}

func TestServeEveryModelAnswersAndExitsOnSIGTERM(t *testing.T) {
	for _, m := range registry.Models() {
		for _, network := range m.Networks {
			if network != targets.TCP && network != targets.Unix && network != targets.UDP && network != targets.Unixgram {
				continue
			}
			t.Run(m.Name+"/"+network, func(t *testing.T) {
				t.Parallel()
				s := startServe(t, 1, "--model", m.Name, "--protocol", "echo", "--network", network)
				gotNet, addr := s.Addrs[0].Network, s.Addrs[0].Address
				if gotNet != network {
					t.Fatalf("listening line names network %s, want %s", gotNet, network)
				}
				if protocol.IsDatagram(network) {
					echoDatagram(t, network, addr)
				} else {
					echoStream(t, network, addr)
				}
				s.stop(t)
			})
		}
	}
}

func echoStream(t *testing.T, network, addr string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "ping\n")
	c.(interface{ CloseWrite() error }).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ping\n" {
		t.Fatalf("echo over %s: got %q, %v; want %q then EOF", network, got, err, "ping\n")
	}
}

func echoDatagram(t *testing.T, network, addr string) {
	t.Helper()
	local := "127.0.0.1:0"
	if network == targets.Unixgram {
		local = filepath.Join(t.TempDir(), "client")
	}
	pc, err := net.ListenPacket(network, local)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(20 * time.Second))
	var to net.Addr
	if network == targets.Unixgram {
		to = &net.UnixAddr{Name: addr, Net: network}
	} else if to, err = net.ResolveUDPAddr(network, addr); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo([]byte("ping"), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo over %s: got %q, %v; want %q", network, buf[:n], err, "ping")
	}
}

func TestServeRepeatedListen(t *testing.T) {
	s := startServe(t, 3, "--protocol", "echo", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0")
	seen := map[string]bool{}
	for _, a := range s.Addrs {
		network, addr := a.Network, a.Address
		if seen[addr] {
			t.Fatalf("address %s announced twice", addr)
		}
		seen[addr] = true
		echoStream(t, network, addr)
	}
	s.stop(t)
}

func TestServeSIGINTExitsZero(t *testing.T) {
	s := startServe(t, 1, "--model", "thread", "--protocol", "hello")
	addr := s.Addrs[0].Address
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// A connection still open at shutdown must not keep the server up.
	if _, err := io.ReadFull(c, make([]byte, len("Welcome!\n"))); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGINT)
	select {
	case <-s.Exited():
		if s.Err() != nil {
			t.Fatalf("after SIGINT with a client connected: %v, want exit 0; stderr: %s", s.Err(), s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGINT")
	}
}

func TestServeBadInputExitsTwoWithOneLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the last stderr line
	}{
		{name: "unknown model", args: []string{"--model", "nope"}, want: "valid: iterative, thread, goroutine"},
		{name: "unknown protocol", args: []string{"--protocol", "nope"}, want: "valid: "},
		{name: "unknown network", args: []string{"--network", "sctp"}, want: "valid: tcp, unix"},
		{name: "stream protocol over udp", args: []string{"--model", "udp", "--protocol", "hello"}, want: "valid: echo"},
		{name: "model without the network", args: []string{"--model", "thread", "--network", "udp"}, want: "valid: tcp, unix"},
		{name: "negative workers", args: []string{"--model", "pool", "--workers", "-1"}, want: "--workers -1"},
		// What a model can hold is checked before anything starts: a
		// million workers took 2.7 GB and 6 s, a thread cap of 20 000 died
		// of thread exhaustion at 10 500 clients.
		{name: "a million workers", args: []string{"--model", "pool", "--workers", "1000000"}, want: "at most 10000"},
		{name: "a million reactor-pool workers", args: []string{"--model", "reactor-pool", "--workers", "1000000"}, want: "at most 1024"},
		{name: "a million reactors", args: []string{"--model", "reuseport", "--workers", "1000000"}, want: "at most 1024"},
		{name: "threads past Go's limit", args: []string{"--model", "thread", "--max-conns", "20000"}, want: "at most 9000"},
		{name: "processes past the cap", args: []string{"--model", "fork", "--max-conns", "20000"}, want: "at most 1024"},
		{name: "bad duration", args: []string{"--line-delay", "soon"}, want: "line-delay"},
		{name: "negative request timeout", args: []string{"--request-timeout", "-1s"}, want: "--request-timeout -1s"},
		{name: "negative idle timeout", args: []string{"--idle-timeout", "-1s"}, want: "--idle-timeout -1s"},
		{name: "unknown flag", args: []string{"--frobnicate"}, want: "frobnicate"},
		{name: "stray argument", args: []string{"extra"}, want: "unexpected argument"},
		{name: "missing poem", args: []string{"--protocol", "poetry", "--poem", "/nonexistent/poem"}, want: "--poem"},
		{name: "unknown framing", args: []string{"--framing", "lines"}, want: "want line, raw or auto"},
		{name: "a server does not probe", args: []string{"--framing", "auto"}, want: "a server does not probe"},
		// A reference server (the file server's uploads above all) stays
		// on loopback unless remote clients are explicitly allowed.
		{name: "every interface", args: []string{"--listen", ":0"}, want: "--allow-remote"},
		{name: "unspecified IPv4", args: []string{"--listen", "0.0.0.0:0"}, want: "--allow-remote"},
		{name: "unspecified IPv6", args: []string{"--listen", "[::]:0"}, want: "--allow-remote"},
		{name: "address not loopback", args: []string{"--listen", "192.0.2.1:0"}, want: "--allow-remote"},
		{name: "one of several not loopback", args: []string{"--listen", "127.0.0.1:0", "--listen", ":0"}, want: "--listen :0"},
		{name: "udp every interface", args: []string{"--model", "udp", "--listen", ":0"}, want: "--allow-remote"},
		{name: "file server every interface", args: []string{"--protocol", "file", "--listen", ":0"}, want: "--allow-remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Bounded: a server that accepts bad input runs until killed.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, socklabBinary(t), append([]string{"serve"}, tt.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("serve %v: %v, want exit status 2; stderr: %s", tt.args, err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "socklab serve: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("last stderr line %q, want \"socklab serve: …%s…\"", last, tt.want)
			}
		})
	}
}

func TestServeHelpHasExample(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"serve", "-h"}, io.Discard, &stderr); code != 0 {
		t.Fatalf("serve -h: exit %d, want 0", code)
	}
	for _, want := range []string{"example:", "socklab serve --model", "-listen", "-max-conns"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve -h lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestServeTimeoutFlags: --request-timeout and --idle-timeout reach the
// server: a client that sends half a request, and one that sends nothing,
// are closed after them, on a blocking model and a reactor.
func TestServeTimeoutFlags(t *testing.T) {
	for _, model := range []string{"pool", "epoll", "fork"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			s := startServe(t, 1, "--model", model, "--protocol", "hello", "--request-timeout", "300ms", "--idle-timeout", "600ms")
			defer s.stop(t)
			for _, tc := range []struct {
				name, send string
				after      time.Duration
			}{{"half a request", "Bo", 300 * time.Millisecond}, {"silent", "", 600 * time.Millisecond}} {
				c, err := net.Dial(s.Addrs[0].Network, s.Addrs[0].Address)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				begin := time.Now()
				io.WriteString(c, tc.send)
				c.SetReadDeadline(begin.Add(10 * time.Second))
				b, err := io.ReadAll(c)
				took := time.Since(begin)
				switch {
				case errors.Is(err, os.ErrDeadlineExceeded):
					t.Fatalf("%s: still open after 10s; want closed after %v", tc.name, tc.after)
				case string(b) != "Welcome!\n":
					t.Fatalf("%s: read %q, want the greeting, then the close", tc.name, b)
				case took < tc.after/2:
					t.Fatalf("%s: closed after %v, before %v", tc.name, took, tc.after)
				}
			}
		})
	}
}
