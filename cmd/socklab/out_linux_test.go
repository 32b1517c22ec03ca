package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/internal/testfs"

	"github.com/socklab/socklab/targets/goroutine"
)

// TestLoadOutReadOnly: an --out that cannot be written is refused before
// the load, whose results would be lost (issue 10).
func TestLoadOutReadOnly(t *testing.T) {
	dir := testfs.MountTmpfs(t, "size=64k")
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY, "size=64k"); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"load", "-d", "30s", "--out", filepath.Join(dir, "run"), "127.0.0.1:1"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "read-only file system") {
		t.Fatalf("exit %d, stderr %q; want 2 and a read-only file system", code, stderr.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("refused after %v, want before the load", took)
	}
}

// TestLoadOutFullDisk: results that do not fit are an error that names the
// file once, and leave no truncated file (issue 10).
func TestLoadOutFullDisk(t *testing.T) {
	dir := testfs.MountTmpfs(t, "size=8k")
	addr := startTarget(t, goroutine.Start)
	var stdout, stderr bytes.Buffer
	code := run([]string{"load", "-d", "300ms", "--out", dir, addr}, &stdout, &stderr)
	msg := stderr.String()
	if code != 1 || !strings.Contains(msg, "no space left on device") {
		t.Fatalf("exit %d, stderr %q; want 1 and no space left", code, msg)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(msg, e.Name()) {
			t.Errorf("%s, the file that did not fit, is on disk", e.Name())
		}
		if fi, err := e.Info(); err != nil || fi.Size() == 0 || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a partial or temporary file is left: %s (%v)", e.Name(), err)
		}
	}
	for _, f := range []string{"latency.hgrm", "latency.hlog", "summary.json"} {
		if n := strings.Count(msg, f); n > 1 {
			t.Errorf("stderr names %s %d times: %q", f, n, msg)
		}
	}
}
