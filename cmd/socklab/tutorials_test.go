package main

// The tutorials' own Python programs (specs/testdata/tutorials, ported to
// Python 3 with their wire behaviour and their bugs kept) against socklab, in
// both directions: every tutorial client, unchanged, against `socklab serve
// --framing raw` over every model, and `socklab load` against every tutorial
// server that speaks one of socklab's protocols.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socklab/socklab/internal/serveproc"
	"github.com/socklab/socklab/loadgen"
	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

// processTimeout bounds every process these tests start, so that a client
// or a server that hangs (several tutorial programs do, by design) fails
// its test instead of the whole run.
const processTimeout = 30 * time.Second

// serverTimeout bounds a tutorial server, which the conformance suite may
// keep busy for longer than a client (the hello server's sleep(1) per
// message makes its run last a minute).
const serverTimeout = 3 * time.Minute

// tutorialsDir holds the ported tutorial programs, relative to this package.
const tutorialsDir = "../../specs/testdata/tutorials"

// python3 returns the path of python3, or skips the test if there is none.
func python3(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH: the tutorial programs cannot run")
	}
	return path
}

// hasAsyncore reports whether python has the asyncore module, which Python
// 3.12 removed; the seed 002 asyncore programs need it.
var hasAsyncore = sync.OnceValues(func() (bool, error) {
	path, err := exec.LookPath("python3")
	if err != nil {
		return false, err
	}
	cmd := exec.Command(path, "-W", "ignore", "-c", "import asyncore")
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false, nil
	}
	return err == nil, err
})

func needAsyncore(t *testing.T) {
	t.Helper()
	ok, err := hasAsyncore()
	if err != nil {
		t.Fatalf("python3 -c 'import asyncore': %v", err)
	}
	if !ok {
		t.Skip("this python3 has no asyncore (removed in Python 3.12); the seed 002 asyncore programs need it")
	}
}

// tutorialScript returns the absolute path of a tutorial program, so that it
// can run in a temporary working directory.
func tutorialScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(tutorialsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("tutorial program: %v", err)
	}
	return path
}

// pythonEnv is the environment of every Python program: UTF-8 on its
// standard streams whatever the locale (the tutorials print Chinese), and no
// __pycache__ written next to the test data.
func pythonEnv() []string {
	return append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONDONTWRITEBYTECODE=1")
}

// cappedBuffer keeps the first max bytes written to it and drops the rest:
// enough to explain a failure, bounded whatever a server prints.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watchedOutput is a client's stdout that tells, on seen, when every string
// of want has appeared in it.
type watchedOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []string
	seen chan struct{}
	once sync.Once
}

func newWatchedOutput(want []string) *watchedOutput {
	return &watchedOutput{want: want, seen: make(chan struct{})}
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if len(w.want) > 0 && containsAll(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// clientRun is one run of a tutorial client.
type clientRun struct {
	script string
	args   []string
	dir    string // working directory
	stdin  string
	// stopWhen is set for a client that does not exit by itself: it is
	// stopped once its stdout holds every one of these strings.
	stopWhen []string
}

// clientResult is what a tutorial client did.
type clientResult struct {
	stdout, stderr string
	err            error // the exit status (nil if stopped on stopWhen)
	stopped        bool  // stopped on stopWhen
}

// runClient runs a tutorial client to its end (or to stopWhen), within
// processTimeout. It fails the test only if the client had to be killed on
// the timeout; the caller judges the exit status and the output.
func runClient(t *testing.T, py string, run clientRun) clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{tutorialScript(t, run.script)}, run.args...)...)
	cmd.Dir = run.dir
	cmd.Env = pythonEnv()
	cmd.Stdin = strings.NewReader(run.stdin)
	stdout := newWatchedOutput(run.stopWhen)
	stderr := &cappedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", run.script, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	res := clientResult{}
	select {
	case res.err = <-exited:
	case <-stdout.seen:
		res.stopped = true
		cancel()
		<-exited
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if !res.stopped && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s %s: still running after %s, killed\nstdout:\n%s\nstderr:\n%s",
			run.script, strings.Join(run.args, " "), processTimeout, res.stdout, res.stderr)
	}
	return res
}

// tutorialServer is a running tutorial server.
type tutorialServer struct {
	*serveproc.Proc
	addrs  []string // from its "listening on" lines
	stdout *cappedBuffer
	stderr *cappedBuffer
}

// startTutorialServer runs a tutorial server in dir and waits for its
// listeners "listening on NETWORK ADDR" lines. The server is killed when
// the test ends, or after serverTimeout.
func startTutorialServer(t *testing.T, py, script, dir string, listeners int) *tutorialServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	cmd := exec.CommandContext(ctx, py, tutorialScript(t, script))
	cmd.Dir = dir
	cmd.Env = pythonEnv()
	s := &tutorialServer{stdout: &cappedBuffer{max: 64 << 10}, stderr: &cappedBuffer{max: 64 << 10}}
	cmd.Stderr = s.stderr
	p, err := serveproc.Start(cmd, listeners, processTimeout, s.stdout)
	if err != nil {
		cancel()
		t.Fatalf("%s: %v; stderr:\n%s", script, err, s.stderr)
	}
	s.Proc = p
	for _, a := range p.Addrs {
		s.addrs = append(s.addrs, a.Address)
	}
	t.Cleanup(func() {
		cancel()
		p.Kill()
	})
	return s
}

// tutorialClient is a tutorial client program and what it must end up with
// when it talks to socklab serve.
type tutorialClient struct {
	script    string
	network   string   // the network it speaks (tcp unless set)
	protocol  string   // the protocol socklab serves it
	serve     []string // more socklab serve flags
	listeners int      // listening sockets it connects to (default 1)
	conns     int      // connections it needs served at once (default 1)
	stdin     string
	stopWhen  []string // it never exits by itself: stop it once its stdout holds these
	exits     bool     // it ends by itself with status 0
	asyncore  bool     // it needs Python's asyncore
	// want counts the strings its stdout must hold, at least that often.
	want map[string]int
	// setup prepares its working directory and the file server's root.
	setup func(t *testing.T, cwd, root string)
	// check judges what it left, beyond want.
	check func(t *testing.T, res clientResult, cwd, root string)
}

// poem is what the tutorials' poetry clients print for each of the three
// ports: socklab's default poem under raw framing, lines without newlines.
var poem = strings.Join(protocol.DefaultPoem, "")

var tutorialClients = []tutorialClient{
	{
		script:   "seed001_hello_client.py",
		protocol: "hello",
		exits:    true,
		want:     map[string]int{"Welcome!": 1, "Hello, Michael!": 1, "Hello, Tracy!": 1, "Hello, Sarah!": 1},
	},
	{
		script:   "seed003_ack_client.py",
		protocol: "ack",
		stdin:    "hello\nworld\nexit\n",
		exits:    true,
		want:     map[string]int{"Server received your message.": 2},
	},
	{
		script:    "seed002_poetry_sync_client.py",
		protocol:  "poetry",
		serve:     []string{"--line-delay", "10ms"},
		listeners: 3,
		exits:     true,
		want:      map[string]int{poem: 3},
	},
	{
		script:    "seed002_poetry_async_client.py",
		protocol:  "poetry",
		serve:     []string{"--line-delay", "10ms"},
		listeners: 3,
		exits:     true,
		want:      map[string]int{poem: 3, "Task 3 finished": 1},
	},
	{
		script:   "seed003_banner_client.py",
		protocol: "banner",
		exits:    true,
		want:     map[string]int{protocol.DefaultBanner: 1},
	},
	{
		script:   "seed001_http_get_client.py",
		protocol: "http",
		exits:    true,
		want:     map[string]int{"HTTP/1.1 200": 1},
		check: func(t *testing.T, _ clientResult, cwd, _ string) {
			t.Helper()
			body, err := os.ReadFile(filepath.Join(cwd, "sina.html"))
			if err != nil {
				t.Fatalf("the client wrote no body: %v", err)
			}
			if string(body) != protocol.HTTPBody {
				t.Fatalf("sina.html holds %q, want %q", body, protocol.HTTPBody)
			}
		},
	},
	{
		// It sends "Hello, world" without a line end and reads once: all it
		// can get is whatever the server answers to one read.
		script:   "seed000_http_client.py",
		protocol: "http",
		exits:    true,
		check: func(t *testing.T, res clientResult, _, _ string) {
			t.Helper()
			if !regexp.MustCompile(`(?m)^Received b['"].+['"]$`).MatchString(res.stdout) {
				t.Fatalf("stdout %q, want \"Received b'…'\" with a non-empty answer", res.stdout)
			}
		},
	},
	{
		script:   "seed000_select_client.py",
		protocol: "echo",
		conns:    2,
		exits:    true,
		want:     map[string]int{"received b'Hello, server.'": 2, "received b'This is my message'": 2},
	},
	{
		// It loops on input() for ever: EOF on stdin ends it with EOFError,
		// so it is judged by the files it and the server leave.
		script:   "seed004_file_client.py",
		protocol: "file",
		stdin:    "put up.bin\nget down.bin\n",
		setup: func(t *testing.T, cwd, root string) {
			t.Helper()
			writeRandomFile(t, filepath.Join(cwd, "up.bin"), 5000)    // five 1024-byte sends, the last short
			writeRandomFile(t, filepath.Join(root, "down.bin"), 3000) // three recv()s at least
		},
		check: func(t *testing.T, res clientResult, cwd, root string) {
			t.Helper()
			for _, f := range []struct{ what, got, want string }{
				{"put: the upload in the server's root", filepath.Join(root, "up.bin"), filepath.Join(cwd, "up.bin")},
				{"get: the download in the client's directory", filepath.Join(cwd, "down.bin"), filepath.Join(root, "down.bin")},
			} {
				got, want := fileSHA256(t, f.got), fileSHA256(t, f.want)
				if got != want {
					t.Errorf("%s: %s has SHA-256 %s, want %s (of %s)\nclient stdout:\n%s\nstderr:\n%s",
						f.what, f.got, got, want, f.want, res.stdout, res.stderr)
				}
			}
		},
	},
	{
		// Its input thread sends each stdin line without its newline; a
		// line sent before the non-blocking connect completes is dropped
		// (the tutorial's bug), so the line is given twice.
		script:   "seed002_asyncore_agent_client.py",
		protocol: "echo",
		stdin:    "hello\nhello\n",
		stopWhen: []string{"recv : hello"},
		asyncore: true,
		want:     map[string]int{"recv : hello": 1},
	},
	{
		// It sends one datagram and exits; it reads nothing.
		script:   "seed003_udp_client.py",
		network:  targets.UDP,
		protocol: "echo",
		exits:    true,
	},
}

// TestTutorialClientsAgainstServe runs every tutorial client, unchanged,
// against socklab serve --framing raw over every model that serves the
// client's network, and checks what the client ends up with.
func TestTutorialClientsAgainstServe(t *testing.T) {
	py := python3(t)
	for _, m := range registry.Models() {
		for _, tc := range tutorialClients {
			network := cmp.Or(tc.network, targets.TCP)
			if !m.Serves(network) {
				continue
			}
			name := strings.TrimSuffix(tc.script, ".py")
			t.Run(m.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				if tc.asyncore {
					needAsyncore(t)
				}
				if c := capacity(m, network, tc.protocol); c > 0 && c < max(tc.conns, 1) {
					t.Skipf("%s holds %d connections at once; model %s serves %d", tc.script, tc.conns, m.Name, c)
				}
				cwd, root := t.TempDir(), t.TempDir()
				if tc.setup != nil {
					tc.setup(t, cwd, root)
				}
				args := []string{"--model", m.Name, "--network", network, "--protocol", tc.protocol, "--framing", "raw"}
				if tc.protocol == "file" {
					args = append(args, "--root", root)
				}
				listeners := max(tc.listeners, 1)
				for range listeners {
					args = append(args, "--listen", "127.0.0.1:0")
				}
				s := startServe(t, listeners, append(args, tc.serve...)...)
				clientArgs, host := []string{}, ""
				for _, a := range s.Addrs {
					h, port, err := net.SplitHostPort(a.Address)
					if err != nil {
						t.Fatalf("listening on %q: %v", a.Address, err)
					}
					if host == "" {
						host = h
						clientArgs = append(clientArgs, host)
					}
					clientArgs = append(clientArgs, port)
				}
				res := runClient(t, py, clientRun{script: tc.script, args: clientArgs, dir: cwd, stdin: tc.stdin, stopWhen: tc.stopWhen})
				if tc.exits && res.err != nil {
					t.Fatalf("%s: %v, want exit status 0\nstdout:\n%s\nstderr:\n%s", tc.script, res.err, res.stdout, res.stderr)
				}
				for want, n := range tc.want {
					if got := strings.Count(res.stdout, want); got < n {
						t.Errorf("stdout holds %q %d times, want %d at least", want, got, n)
					}
				}
				if t.Failed() {
					t.Fatalf("%s against %s:\nstdout:\n%s\nstderr:\n%s", tc.script, m.Name, res.stdout, res.stderr)
				}
				if tc.check != nil {
					tc.check(t, res, cwd, root)
				}
				s.stop(t)
			})
		}
	}
}

// capacity is how many connections m serves at once for protocol over
// network, 0 if unbounded.
func capacity(m targets.Model, network, proto string) int {
	if m.Capacity == nil {
		return 0
	}
	return m.Capacity(targets.Config{Network: network, Protocol: proto})
}

func writeRandomFile(t *testing.T, path string, size int) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sha256: %v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// tutorialLoad is a tutorial server and the socklab load run against it.
type tutorialLoad struct {
	script    string
	protocol  string
	n         int      // requests (-n)
	timeout   string   // per request (--timeout)
	load      []string // more socklab load flags
	listeners int      // "listening on" lines it prints (the load uses the first)
	files     []string // files it serves from its working directory
	asyncore  bool     // it needs Python's asyncore
	// skipAuto says why --framing auto cannot be run against it, if so.
	skipAuto string
}

var tutorialLoads = []tutorialLoad{
	// One recv() per message and a time.sleep(1) each: three requests.
	{script: "seed001_hello_server.py", protocol: "hello", n: 3, timeout: "10s", load: []string{"-c", "1"}},
	{script: "seed003_ack_pool_server.py", protocol: "ack"},
	{
		script: "seed003_ack_select_pool_server.py", protocol: "ack",
		skipAuto: "a connection's close can kill this server (a pool worker closes the socket while select() holds it: EBADF, a bug of the tutorial's), and the probe's connection closes before the run starts",
	},
	{script: "seed003_ack_selectors_pool_server.py", protocol: "ack"},
	{script: "seed003_banner_server.py", protocol: "banner"},
	{script: "seed003_banner_pool_server.py", protocol: "banner"},
	// One port of three, a poem of four lines 0.5 s apart: 2 s a request.
	{script: "seed002_poetry_server.py", protocol: "poetry", n: 2, listeners: 3},
	{script: "seed000_http_server.py", protocol: "http"},
	{script: "seed000_select_server.py", protocol: "echo"},
	// One read(100) per connection, decoded as UTF-8 (any other byte
	// kills the handler before its echo): short connections of text.
	{script: "seed003_asyncio_echo_server.py", protocol: "echo", load: []string{"--size", "100", "--reconnect", "--text"}},
	// One message per connection, answered by quoting it, then a close.
	{script: "seed003_socketserver_server.py", protocol: "ack",
		load: []string{"--ack-reply", "Server received your message:" + protocol.AckQuote, "--reconnect"}},
	// It only receives: a datagram sent is a request done.
	{script: "seed003_udp_server.py", protocol: "echo", load: []string{"--network", "udp", "--no-reply", "--rate", "200", "--text"}},
	{script: "seed002_asyncore_echo_server.py", protocol: "echo", asyncore: true},
	{script: "seed004_file_server.py", protocol: "file", load: []string{"--name", "get_file"}, files: []string{"get_file"}},
}

// TestLoadAgainstTutorialServers runs socklab load, with raw framing and with
// the framing probed, against every tutorial server that speaks one of
// socklab's protocols, and checks from the JSON summary that the requests
// completed and none was answered wrong or short.
func TestLoadAgainstTutorialServers(t *testing.T) {
	py := python3(t)
	for _, tc := range tutorialLoads {
		for _, framing := range []string{"raw", "auto"} {
			t.Run(strings.TrimSuffix(tc.script, ".py")+"/"+framing, func(t *testing.T) {
				t.Parallel()
				if tc.asyncore {
					needAsyncore(t)
				}
				if framing == "auto" && tc.skipAuto != "" {
					t.Skip(tc.skipAuto)
				}
				dir := t.TempDir()
				for _, f := range tc.files {
					writeRandomFile(t, filepath.Join(dir, f), 3000)
				}
				srv := startTutorialServer(t, py, tc.script, dir, max(tc.listeners, 1))
				n := cmp.Or(tc.n, 20)
				args := append([]string{"--protocol", tc.protocol, "--framing", framing, "-n", strconv.Itoa(n),
					"--timeout", cmp.Or(tc.timeout, "5s"), "--json"}, tc.load...)
				s := loadSummary(t, append(args, srv.addrs[0])...)
				t.Logf("%d requests, errors %v, framing %q (%s)", s.Requests, nonZero(s.Errors), s.Framing, s.Detected)

				p, err := protocol.Lookup(tc.protocol)
				if err != nil {
					t.Fatal(err)
				}
				if p.Framed && s.Framing != "raw" {
					t.Errorf("framing %q (detected: %q), want raw: every tutorial server speaks raw", s.Framing, s.Detected)
				}
				if p.Framed && framing == "auto" && s.Detected == "" {
					t.Errorf("framing auto: the summary says nothing of what the probe found")
				}
				for class, count := range s.Errors {
					if count != 0 {
						t.Errorf("%d requests failed with %s (first: %s)", count, class, s.FirstErrors[class])
					}
				}
				if s.Requests != int64(n) {
					t.Errorf("%d requests completed, want %d", s.Requests, n)
				}
				if s.Unfinished != 0 {
					t.Errorf("%d requests unfinished", s.Unfinished)
				}
				select {
				case <-srv.Exited():
					// Several tutorial servers die when a connection
					// closes (see their docstrings); the run is judged
					// all the same, by what it got before.
					t.Logf("%s exited (%v) by the end of the run", tc.script, srv.Err())
				default:
				}
				if t.Failed() {
					t.Logf("server stdout:\n%s\nserver stderr:\n%s", srv.stdout, srv.stderr)
				}
			})
		}
	}
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// loadSummary runs socklab load with args (which include --json) and returns its
// summary. On the process timeout the load gets SIGTERM, on which it stops
// and still prints its summary.
func loadSummary(t *testing.T, args ...string) loadgen.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, socklabBinary(t), append([]string{"load"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("socklab load %s: still running after %s, stopped with SIGTERM", strings.Join(args, " "), processTimeout)
	}
	// The summary is judged, not the exit status: a load that had errors
	// still prints it.
	s, jerr := loadgen.ReadSummary(&stdout)
	if jerr != nil {
		t.Fatalf("socklab load %s: %v (exit: %v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), jerr, err, stdout.String(), stderr.String())
	}
	return s
}
