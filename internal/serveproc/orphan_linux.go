package serveproc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// startDying starts cmd so that the kernel kills it when the process that
// started it dies (PR_SET_PDEATHSIG): a test binary killed by its timeout,
// or a bench stopped with SIGKILL, leaves no server behind. It keeps
// attributes the caller set.
//
// The signal follows the thread that forked, not the process, and Go ends
// a thread whose goroutine exits locked to it (the thread model does, once
// per connection). So every server is forked from one goroutine locked to
// its thread for the life of the process: no other goroutine ever runs on
// that thread, so none can end it.
func startDying(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	spawnOnce.Do(func() {
		spawns = make(chan spawn)
		go spawner()
	})
	done := make(chan error, 1)
	spawns <- spawn{cmd, done}
	return <-done
}

type spawn struct {
	cmd  *exec.Cmd
	done chan<- error
}

var (
	spawnOnce sync.Once
	spawns    chan spawn
)

// spawner forks every server from its own thread, which it never unlocks.
func spawner() {
	runtime.LockOSThread()
	for s := range spawns {
		s.done <- s.cmd.Start()
	}
}
