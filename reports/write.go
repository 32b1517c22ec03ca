package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/renameio/v2"

	"github.com/socklab/socklab/loadgen"
)

// WriteFile writes the file at path whole or not at all: write fills a
// temporary file beside it, which is synced and renamed over path only once
// every byte is written (github.com/google/renameio). A full disk or a
// failed write leaves path as it was, and no temporary file behind. Every
// file socklab writes goes through here. The error names path once.
func WriteFile(path string, write func(io.Writer) error) error {
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithPermissions(0o644))
	if err != nil {
		return fileError(path, err)
	}
	defer pf.Cleanup()
	bw := bufio.NewWriter(pf)
	if err := write(bw); err != nil {
		return fileError(path, err)
	}
	if err := bw.Flush(); err != nil {
		return fileError(path, err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fileError(path, err)
	}
	return nil
}

// fileError is err of writing path, naming path once: the error of a file
// operation names the temporary file, which is gone.
func fileError(path string, err error) error {
	return fmt.Errorf("write %s: %w", path, unwrapPath(err))
}

// writeFiles writes each named file in dir, in name order, each with
// WriteFile.
func writeFiles(dir string, files map[string]func(io.Writer) error) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := WriteFile(filepath.Join(dir, n), files[n]); err != nil {
			return err
		}
	}
	return nil
}

// WriteResult writes a load's latency.hgrm (corrected latency),
// latency.hlog and summary.json into dir, creating it if needed.
func WriteResult(dir string, r *loadgen.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return writeFiles(dir, map[string]func(io.Writer) error{
		loadgen.HgrmFile:    func(w io.Writer) error { return loadgen.WriteHgrm(w, r.Corrected) },
		loadgen.HlogFile:    func(w io.Writer) error { return loadgen.WriteHlog(w, r.Start, r.Intervals) },
		loadgen.SummaryFile: func(w io.Writer) error { return loadgen.WriteSummary(w, r.Summary()) },
	})
}

// CheckOutDir reports whether files can be written into dir, before a run
// whose results would otherwise be lost: dir is a directory, or does not
// exist yet and its nearest existing ancestor is one, and a file can be
// created there. It creates nothing that it leaves behind.
func CheckOutDir(dir string) error {
	if dir == "" {
		return errors.New("no directory given")
	}
	d := filepath.Clean(dir)
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("%s is not a directory", dir)
				}
				return fmt.Errorf("%s cannot be made: %s is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", dir, unwrapPath(err))
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%s: %w", dir, unwrapPath(err))
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".socklab-check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write in %s: %w", dir, d, unwrapPath(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// unwrapPath drops the paths that the error of a file operation (an
// *fs.PathError, an *os.LinkError) repeats: the caller names the path once.
func unwrapPath(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
