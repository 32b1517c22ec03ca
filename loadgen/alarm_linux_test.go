package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAlarmOutOfDescriptors: a goroutine-engine run whose alarms do not fit
// in the descriptor limit fails at once, saying what to raise. The test
// lowers the process's limit, so it must not run in parallel.
func TestAlarmOutOfDescriptors(t *testing.T) {
	addr := startEcho(t, "tcp")
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(len(fds) + 8)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Config{Addr: addr, Engine: EngineGoroutine, Connections: 64, Rate: Constant(100), Requests: 64})
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err == nil || !strings.Contains(err.Error(), "ulimit -n") {
		t.Fatalf("64 connections with room for 8 descriptors: Run = %v, want an error with the advice", err)
	}
}
