package broken

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// A server whose defect is memory is judged by its process's RSS, so it
// runs in a process of its own: in the test's process, the other tests'
// servers (and the other front end's copy of it) would share that RSS, and
// the memory one frees would hide the growth of the other. The test binary
// is the child: re-executed with processEnv naming the server, its TestMain
// calls ServeIfChild, which serves and never returns.
const (
	processEnv     = "SOCKLAB_BROKEN_SERVER"
	processRootEnv = "SOCKLAB_BROKEN_ROOT"
)

// ServeIfChild serves the broken server named by the environment and exits,
// if this process was started by StartProcess; otherwise it returns at once.
// A test binary that uses StartProcess calls it first in its TestMain.
func ServeIfChild() {
	name := os.Getenv(processEnv)
	if name == "" {
		return
	}
	code := 0
	if err := serveChild(name, os.Getenv(processRootEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "broken server %s: %v\n", name, err)
		code = 2
	}
	os.Exit(code)
}

// serveChild starts the server called name, prints its address on stdout,
// and serves until stdin ends (the parent closed it, or died).
func serveChild(name, root string) error {
	var s *Server
	for i := range servers {
		if servers[i].Name == name {
			s = &servers[i]
		}
	}
	if s == nil {
		return errors.New("no such broken server")
	}
	srv, err := s.Start(root)
	if err != nil {
		return err
	}
	if _, err := fmt.Println(srv.Addrs()[0].String()); err != nil {
		_ = srv.Close()
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// Instance is a started broken server.
type Instance struct {
	// Addr is the server's address.
	Addr string
	// PID is the id of the server's own process, for --pid; 0 when it
	// runs in this one.
	PID int
	// Close stops it and waits for it.
	Close func() error
}

// Launch starts s: a server whose defect is memory (MeasureRSS) in a child
// process (see StartProcess), any other in this process.
func Launch(s Server, root string) (*Instance, error) {
	if s.MeasureRSS {
		p, err := StartProcess(s, root)
		if err != nil {
			return nil, err
		}
		return &Instance{Addr: p.Addr, PID: p.PID, Close: p.Close}, nil
	}
	srv, err := s.Start(root)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	return &Instance{Addr: srv.Addrs()[0].String(), Close: srv.Close}, nil
}

// Process is a broken server running in a child process of its own.
type Process struct {
	// Addr is the server's address; PID its process's id.
	Addr string
	PID  int

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed when the child has exited; then err is its end
	err    error
}

// processStartTimeout bounds a child's start, up to its printed address.
const processStartTimeout = 30 * time.Second

// StartProcess starts s in a child process: this test binary, re-executed
// (its TestMain must call ServeIfChild). Close stops it.
func StartProcess(s Server, root string) (*Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), processEnv+"="+s.Name, processRootEnv+"="+root)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	addr := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = addr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Process{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.Addr = <-addr.line:
	case <-p.exited:
	case <-time.After(processStartTimeout):
	}
	if p.Addr == "" {
		_ = p.Close()
		return nil, fmt.Errorf("start %s: the child printed no address", s.Name)
	}
	return p, nil
}

// Close ends the child's stdin, which stops its server, and waits for it;
// a child that has not exited 10 s later is killed.
func (p *Process) Close() error {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("broken server %d: killed, not stopped 10 s after its stdin closed: %w", p.PID, p.err)
	}
}

// firstLine sends the first line written to it, without its newline, and
// discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan string
}

func (w *firstLine) Write(b []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, b...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line <- string(w.buf[:i])
			w.sent, w.buf = true, nil
		}
	}
	return len(b), nil
}
