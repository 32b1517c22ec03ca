// Package serveproc starts a server process that announces itself the way
// `socklab serve` does, with one "listening on NETWORK ADDRESS" line per
// listener as its first lines on stdout, and stops it. The benchmark matrix
// (socklab bench), the model benchmarks and the tests that run socklab serve
// or a tutorial's server all start their servers with it.
package serveproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Addr is one listener a server announced.
type Addr struct {
	Network, Address string
}

// Proc is a running server process.
type Proc struct {
	// Addrs are the announced listeners, in the order announced.
	Addrs []Addr

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// ParseListening splits "listening on NETWORK ADDRESS"; ok is false for any
// other line.
func ParseListening(line string) (a Addr, ok bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "listening" || f[1] != "on" {
		return Addr{}, false
	}
	return Addr{Network: f[2], Address: f[3]}, true
}

// Start starts cmd, whose Stdout must be unset, and waits up to wait for
// its first listeners lines. What it prints after them is copied to rest
// (nil: discarded) until it exits, so that a chatty server never blocks on
// a full pipe. On any error the process is killed and reaped. On Linux the
// process is also killed if the caller's process dies without stopping it.
func Start(cmd *exec.Cmd, listeners int, wait time.Duration, rest io.Writer) (*Proc, error) {
	if rest == nil {
		rest = io.Discard
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startDying(cmd); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	announced := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		var err error
		for len(p.Addrs) < listeners {
			var line string
			if line, err = r.ReadString('\n'); err != nil {
				err = fmt.Errorf("read its listening lines: %w", err)
				break
			}
			a, ok := ParseListening(strings.TrimSuffix(line, "\n"))
			if !ok {
				err = fmt.Errorf("it printed %q, want \"listening on NETWORK ADDRESS\"", line)
				break
			}
			p.Addrs = append(p.Addrs, a)
		}
		announced <- err
		io.Copy(rest, r)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-announced:
		if err != nil {
			p.Kill()
			return nil, fmt.Errorf("%s: %w", cmd.Path, err)
		}
		return p, nil
	case <-timer.C:
		p.Kill()
		return nil, fmt.Errorf("%s: no listening line within %v", cmd.Path, wait)
	}
}

// Exited is closed once the process has exited; Err then says how.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the process's exit status, once Exited is closed.
func (p *Proc) Err() error { return p.err }

// ErrStopTimeout is returned by Stop for a server that did not exit within
// its grace period after SIGTERM and was killed.
var ErrStopTimeout = errors.New("no exit after SIGTERM; killed")

// Stop sends SIGTERM and waits up to grace for the process to exit, as
// socklab serve does after a graceful shutdown; past it the process is
// killed. It returns the exit status.
func (p *Proc) Stop(grace time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		p.Kill()
		return ErrStopTimeout
	}
}

// Kill kills the process and waits until it is reaped. It is safe to call
// after the process exited.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }
