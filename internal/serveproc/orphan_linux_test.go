package serveproc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parentEnv makes the test binary the parent of TestServerDiesWithParent:
// it starts a server with Start, prints the server's PID and waits to be
// killed.
const parentEnv = "SERVEPROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(parentEnv) != "" {
		// The server is started from a goroutine that then exits locked
		// to its thread, as the thread model's do: Go ends that thread,
		// and a server forked from it would die with it.
		started := make(chan *Proc)
		go func() {
			p, err := Start(exec.Command("sh", "-c", "echo listening on tcp 127.0.0.1:1; exec sleep 60"), 1, 10*time.Second, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			runtime.LockOSThread()
			started <- p
		}()
		p := <-started
		fmt.Println(p.cmd.Process.Pid)
		<-p.Exited()
		fmt.Fprintln(os.Stderr, "the server exited while its parent ran:", p.Err())
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestServerDiesWithParent: a server outlives no parent killed without its
// Stop (a test binary past its timeout, a bench killed with SIGKILL).
func TestServerDiesWithParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the parent printed no server PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the parent printed %q, want the server's PID", line)
	}
	// Watch the server before the parent dies: a pidfd turns readable
	// when the process exits, so the test waits on that event.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(fd)
	// While the parent lives, the server must too, though the thread
	// that asked for it has ended.
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 200); err == nil && n > 0 {
		t.Fatalf("the server (pid %d) died while its parent ran: it was tied to a thread that ended", pid)
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	const within = 10 * time.Second
	for {
		n, err := unix.Poll(fds, int(within.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("the server (pid %d) still ran %v after its parent was killed", pid, within)
		}
		return
	}
}
