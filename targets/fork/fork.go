// Package fork is the process-per-connection model of the tutorials'
// ForkingTCPServer. Go cannot fork(2) a running runtime, so the parent
// re-executes its own binary for each accepted connection and hands the
// connection over as descriptor 3, with the protocol's configuration in an
// environment variable. The parent closes its copy of the connection at
// once, reaps each child when it exits, and caps the number of children.
//
// Every binary that starts this model must call Child first thing in main
// (and in TestMain of a test binary): in a child it serves descriptor 3 and
// exits.
package fork

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/protocol/conn"
	"github.com/socklab/socklab/targets"
)

// DefaultMaxConns is the cap on concurrent children when Config.MaxConns is
// 0.
const DefaultMaxConns = 64

// MaxConnsLimit is the highest cap the model takes: each child is a whole
// process with a Go runtime of its own, several MiB of memory.
const MaxConnsLimit = 1024

// Grace is how long Close waits after SIGTERM before it kills a child.
const Grace = 2 * time.Second

// envChild names the environment variable that marks a child and carries
// its configuration.
const envChild = "SOCKLAB_FORK_CHILD"

// childConfig is what a child needs to serve its connection.
type childConfig struct {
	Protocol string           `json:"protocol"`
	Options  protocol.Options `json:"options"`
	Conn     conn.Options     `json:"conn"`
}

// Model describes the fork model for the registry.
var Model = targets.Model{
	Name:     "fork",
	Summary:  "one process per connection: the binary re-executed with the connection as fd 3",
	Networks: []string{targets.TCP, targets.Unix},
	Capacity: maxConns,
	Note:     "at most --max-conns children (default 64, at most 1024); past it, accepting waits; main must call fork.Child",
	Limit:    limit,
	Start:    Start,
}

func maxConns(cfg targets.Config) int {
	if cfg.MaxConns > 0 {
		return cfg.MaxConns
	}
	return DefaultMaxConns
}

func limit(cfg targets.Config) error {
	return targets.AtMost("fork", "max-conns", maxConns(cfg), MaxConnsLimit, "a connection is a process with a Go runtime of its own")
}

// Child serves the connection on descriptor 3 and exits if this process is
// a child of the fork model; otherwise it returns false at once. Call it at
// the start of main, before anything else runs.
func Child() bool {
	raw, ok := os.LookupEnv(envChild)
	if !ok {
		return false
	}
	os.Exit(runChild(raw))
	return true
}

func runChild(raw string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "socklab fork child %d: %v\n", os.Getpid(), err)
		return 1
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		return fail(fmt.Errorf("decode %s: %w", envChild, err))
	}
	p, err := protocol.Lookup(cc.Protocol)
	if err != nil {
		return fail(err)
	}
	newSession, err := p.New(cc.Options)
	if err != nil {
		return fail(fmt.Errorf("protocol %s: %w", p.Name, err))
	}
	f := os.NewFile(3, "connection")
	c, err := net.FileConn(f)
	f.Close() // FileConn made its own copy
	if err != nil {
		return fail(fmt.Errorf("connection on fd 3: %w", err))
	}
	tc, ok := c.(targets.Conn)
	if !ok {
		c.Close()
		return fail(fmt.Errorf("connection on fd 3 is a %T, not a stream socket", c))
	}
	// An error here ends this connection only (a reset peer): the parent
	// counts the exit, nothing else.
	targets.ServeStreamWith(tc, newSession(), cc.Conn)
	return 0
}

// Server is a running process-per-connection server.
type Server struct {
	ls       []net.Listener
	cleanup  func()
	exe      string
	env      []string
	slots    chan struct{}
	done     chan struct{}
	log      *slog.Logger
	mu       sync.Mutex
	children map[*exec.Cmd]struct{}
	reaped   sync.WaitGroup
	loops    sync.WaitGroup
	once     sync.Once
}

// Start starts a server for cfg.
func Start(cfg targets.Config) (targets.Server, error) {
	if _, err := targets.Normalize(&cfg); err != nil {
		return nil, err
	}
	if err := (targets.Model{Name: "fork", Limit: limit}).Check(cfg); err != nil {
		return nil, err
	}
	exe, err := selfExe()
	if err != nil {
		return nil, fmt.Errorf("model fork: find own binary: %w", err)
	}
	raw, err := json.Marshal(childConfig{Protocol: cfg.Protocol, Options: cfg.Options, Conn: cfg.ConnOptions()})
	if err != nil {
		return nil, fmt.Errorf("model fork: encode child config: %w", err)
	}
	ls, cleanup, err := targets.Listen(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		ls:       ls,
		cleanup:  cleanup,
		exe:      exe,
		env:      append(os.Environ(), envChild+"="+string(raw)),
		slots:    make(chan struct{}, maxConns(cfg)),
		done:     make(chan struct{}),
		log:      cfg.Log,
		children: make(map[*exec.Cmd]struct{}),
	}
	for _, l := range ls {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			s.acceptLoop(l)
		}()
	}
	return s, nil
}

// acceptLoop takes a child slot, then accepts, so that past the cap new
// clients wait in the listen backlog.
func (s *Server) acceptLoop(l net.Listener) {
	var delay time.Duration
	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.done:
			return
		}
		c, err := l.Accept()
		if err != nil {
			<-s.slots
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = targets.Backoff(delay)
			s.log.Warn("accept failed; backing off", "addr", l.Addr(), "err", err, "delay", delay)
			if !s.sleep(delay) {
				return
			}
			continue
		}
		if err := s.spawn(c); err != nil {
			// Out of descriptors or processes: the one connection is
			// lost, the server backs off and carries on.
			<-s.slots
			delay = targets.Backoff(delay)
			s.log.Warn("fork failed; backing off", "remote", c.RemoteAddr(), "err", err, "delay", delay)
			if !s.sleep(delay) {
				return
			}
			continue
		}
		delay = 0
	}
}

func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// spawn starts a child serving c, closes the parent's copies of c, and
// reaps the child in the background.
func (s *Server) spawn(c net.Conn) error {
	defer c.Close()
	fc, ok := c.(interface{ File() (*os.File, error) })
	if !ok {
		return fmt.Errorf("fork: %T has no descriptor", c)
	}
	f, err := fc.File()
	if err != nil {
		return fmt.Errorf("fork: dup connection: %w", err)
	}
	defer f.Close()
	cmd := exec.Command(s.exe)
	cmd.Env = s.env
	cmd.ExtraFiles = []*os.File{f} // descriptor 3 in the child
	cmd.Stderr = os.Stderr
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return errors.New("fork: server closed")
	default:
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("fork: start %s: %w", s.exe, err)
	}
	s.children[cmd] = struct{}{}
	s.reaped.Add(1)
	go func() {
		defer s.reaped.Done()
		err := cmd.Wait()
		s.mu.Lock()
		delete(s.children, cmd)
		s.mu.Unlock()
		<-s.slots
		if err != nil {
			s.log.Debug("child exited", "pid", cmd.Process.Pid, "err", err)
		}
	}()
	return nil
}

// Addrs returns the listeners' addresses.
func (s *Server) Addrs() []net.Addr { return targets.ListenerAddrs(s.ls) }

// Close stops accepting, asks every child to stop with SIGTERM, kills those
// still running after Grace, and waits until every child is reaped.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.mu.Unlock()
		s.cleanup()
		s.loops.Wait()
		s.signalAll(syscall.SIGTERM)
		finished := make(chan struct{})
		go func() {
			s.reaped.Wait()
			close(finished)
		}()
		t := time.NewTimer(Grace)
		defer t.Stop()
		select {
		case <-finished:
		case <-t.C:
			s.signalAll(syscall.SIGKILL)
			<-finished
		}
	})
	return nil
}

func (s *Server) signalAll(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cmd := range s.children {
		cmd.Process.Signal(sig)
	}
}

// selfExe names the binary to re-execute for each connection. On Linux it is
// /proc/self/exe, which the kernel resolves to the running binary's own
// inode when the child execs it: children keep starting after the file on
// disk is replaced or removed (a rebuild, an upgrade, a test runner that
// deletes its compiled binary), where the path from os.Executable would name
// another binary, or none.
func selfExe() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}
