// Package testfs gives tests file systems with chosen limits: a tmpfs
// small enough to fill, or one to remount read-only.
package testfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs with opts (as mount -o takes them, such as
// "size=64k") on a new temporary directory, unmounted when the test ends,
// or skips the test: mounting needs root (or CAP_SYS_ADMIN).
func MountTmpfs(t testing.TB, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): needs root", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
