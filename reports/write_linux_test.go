package reports

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/socklab/socklab/internal/testfs"
)

// TestFullDiskLeavesNoPartialFile: on a full file system a write fails
// with ENOSPC, names its file once, and leaves no truncated file (issue 10).
func TestFullDiskLeavesNoPartialFile(t *testing.T) {
	dir := testfs.MountTmpfs(t, "size=64k")
	small := filepath.Join(dir, "small.txt")
	if err := WriteFile(small, func(w io.Writer) error { _, err := w.Write([]byte("fits")); return err }); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("y"), 256<<10)
	for _, name := range []string{"big.txt", "small.txt"} {
		path := filepath.Join(dir, name)
		err := writeFiles(dir, map[string]func(io.Writer) error{name: func(w io.Writer) error { _, err := w.Write(big); return err }})
		if !errors.Is(err, syscall.ENOSPC) || strings.Count(err.Error(), path) != 1 {
			t.Errorf("%s: err = %v, want ENOSPC naming the file once", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "big.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("big.txt on a full disk: %v, want no file", err)
	}
	if b, _ := os.ReadFile(small); string(b) != "fits" {
		t.Errorf("small.txt after a failed rewrite: %d bytes, want its previous content, fits", len(b))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files on the full disk, want only small.txt", len(ents))
	}
}

// TestReadOnlyOutDir: a directory that cannot be written is refused before
// a run.
func TestReadOnlyOutDir(t *testing.T) {
	dir := testfs.MountTmpfs(t, "size=64k")
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY, "size=64k"); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		if err := CheckOutDir(d); !errors.Is(err, syscall.EROFS) {
			t.Errorf("CheckOutDir(%s) = %v, want EROFS", d, err)
		}
	}
}
