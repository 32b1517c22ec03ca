package fork_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/fork"
)

// envServe makes the test binary start a fork echo server, print its
// address and wait for stdin to close.
const envServe = "SOCKLAB_FORK_TEST_SERVE"

func TestMain(m *testing.M) {
	fork.Child()
	if os.Getenv(envServe) != "" {
		os.Exit(serve())
	}
	os.Exit(m.Run())
}

func serve() int {
	srv, err := fork.Start(targets.Config{Protocol: "echo"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fmt.Println(srv.Addrs()[0])
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestChildrenOutliveTheBinaryOnDisk: a fork server whose binary is removed
// from disk after it started (a rebuild, an upgrade, a test runner cleaning
// up) still starts a child for each new connection.
func TestChildrenOutliveTheBinaryOnDisk(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "copy.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envServe+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the server printed no address: %v", err)
	}
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}

	c, err := net.DialTimeout("tcp", strings.TrimSpace(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("still here\n")); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "still here\n" {
		t.Fatalf("echo after the binary was removed: got %q, %v; want the bytes back and EOF (the server could not start a child)", got, err)
	}
}
