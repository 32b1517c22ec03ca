package reports

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failAfter is a writer function that writes n bytes, then fails.
func failAfter(n int) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := w.Write([]byte(strings.Repeat("x", n))); err != nil {
			return err
		}
		return errors.New("the encoder failed")
	}
}

// TestWriteFailureLeavesNoPartialFile: a writer that fails mid-way leaves
// neither a partial file nor a temporary one, and the previous content of
// the file stays whole (issue 10).
func TestWriteFailureLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	err := writeFiles(dir, map[string]func(io.Writer) error{"new.txt": failAfter(100 << 10)})
	if err == nil || !strings.Contains(err.Error(), "the encoder failed") {
		t.Fatalf("err = %v, want the writer's", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("new.txt after a failed write: %v, want no file", err)
	}
	old := filepath.Join(dir, "old.txt")
	if err := os.WriteFile(old, []byte("the previous, whole content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(dir, map[string]func(io.Writer) error{"old.txt": failAfter(10)}); err == nil {
		t.Fatal("a failed write returned no error")
	}
	if b, _ := os.ReadFile(old); string(b) != "the previous, whole content" {
		t.Errorf("old.txt after a failed rewrite: %q, want its previous content", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %v, want only old.txt", names)
	}
}

func TestWriteFileNamesThePathOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "f.txt")
	err := WriteFile(path, failAfter(0))
	if err == nil || strings.Count(err.Error(), path) != 1 || strings.Contains(err.Error(), ".f.txt") {
		t.Errorf("err = %v, want %s named once and no temporary name", err, path)
	}
}

func TestCheckOutDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"existing directory", dir, ""},
		{"to be made", filepath.Join(dir, "a", "b"), ""},
		{"a file", file, "is not a directory"},
		{"under a file", filepath.Join(file, "sub"), "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOutDir(tc.dir)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("CheckOutDir(%s) = %v, want %q", tc.dir, err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckOutDir made a directory: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("CheckOutDir left %d entries, want the one file", len(ents))
	}
}
