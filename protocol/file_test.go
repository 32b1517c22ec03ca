package protocol

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileRoot makes a root directory with a few files and returns a factory of
// file sessions over it.
func fileRoot(t testing.TB) (string, Factory) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hi!\n"), 0o644))
	must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "sub", "a"), []byte("A"), 0o644))
	must(t, os.Symlink(filepath.Join(dir, "secret"), filepath.Join(root, "out")))
	must(t, os.Symlink("../../secret", filepath.Join(root, "sub", "up")))
	must(t, os.Symlink("hello.txt", filepath.Join(root, "in")))
	p, err := Lookup("file")
	must(t, err)
	f, err := p.New(Options{Root: root})
	must(t, err)
	return root, f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rootEntries lists the root's top level, sorted.
func rootEntries(t testing.TB, root string) string {
	t.Helper()
	es, err := os.ReadDir(root)
	must(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

const initialEntries = "hello.txt in out sub"

func TestFileSession(t *testing.T) {
	tests := []struct {
		name      string
		chunks    []string
		eof       bool
		want      string
		wantClose bool
		// wantFiles maps names under the root to their content after the
		// session; "" means absent.
		wantFiles map[string]string
	}{
		{name: "get", chunks: []string{"get>hello.txt\n", "ok\n"}, want: "yes:4\nhi!\n"},
		{name: "get pipelined with ok", chunks: []string{"get>hello.txt\nok\n"}, want: "yes:4\nhi!\n"},
		{name: "tutorial get with a field", chunks: []string{"get>hello.txt>2\nok\n"}, want: "yes:4\nhi!\n"},
		{name: "crlf", chunks: []string{"get>hello.txt\r\nok\r\n"}, want: "yes:4\nhi!\n"},
		{name: "two gets pipelined", chunks: []string{"get>hello.txt\nok\nget>sub/a\nok\n"}, want: "yes:4\nhi!\nyes:1\nA"},
		{name: "get cancelled", chunks: []string{"get>hello.txt\nno thanks\nget>sub/a\nok\n"}, want: "yes:4\nyes:1\nA"},
		{name: "symlink inside root", chunks: []string{"get>in\nok\n"}, want: "yes:4\nhi!\n"},
		{name: "missing then usable", chunks: []string{"get>nope\nget>sub/a\nok\n"}, want: "no: not found\nyes:1\nA"},
		{name: "directory", chunks: []string{"get>sub\n"}, want: "no: not a regular file\n"},
		{name: "dotdot", chunks: []string{"get>../secret\n"}, want: "no: refused\n"},
		{name: "dotdot inside", chunks: []string{"get>sub/../hello.txt\nok\n"}, want: "yes:4\nhi!\n"},
		{name: "absolute", chunks: []string{"get>/etc/passwd\n"}, want: "no: bad name\n"},
		{name: "symlink out", chunks: []string{"get>out\n"}, want: "no: refused\n"},
		{name: "relative symlink out", chunks: []string{"get>sub/up\n"}, want: "no: refused\n"},
		{name: "empty name", chunks: []string{"get>\n"}, want: "no: bad name\n"},
		{name: "nul", chunks: []string{"get>hello.txt\x00\n"}, want: "no: bad name\n"},
		{name: "unknown", chunks: []string{"list\nget\nGET>hello.txt\n\n"}, want: strings.Repeat("no: unknown command\n", 4)},
		{name: "put", chunks: []string{"put>new>3\n", "abc"}, want: "ok\n", wantFiles: map[string]string{"new": "abc"}},
		{name: "put then get pipelined", chunks: []string{"put>new>3\nabcget>new\nok\n"}, want: "ok\nyes:3\nabc", wantFiles: map[string]string{"new": "abc"}},
		{name: "put raw bytes with newlines", chunks: []string{"put>new>4\na\n\nb"}, want: "ok\n", wantFiles: map[string]string{"new": "a\n\nb"}},
		{name: "put empty", chunks: []string{"put>new>0\nget>new\nok\n"}, want: "ok\nyes:0\n", wantFiles: map[string]string{"new": ""}},
		{name: "put over existing", chunks: []string{"put>hello.txt>2\nyo"}, want: "ok\n", wantFiles: map[string]string{"hello.txt": "yo"}},
		{name: "put in subdirectory", chunks: []string{"put>sub/b>1\nB"}, want: "ok\n", wantFiles: map[string]string{"sub/b": "B"}},
		{name: "put in missing directory", chunks: []string{"put>nodir/b>1\n"}, want: "no: no such directory\n"},
		{name: "put over a directory", chunks: []string{"put>sub>1\n"}, want: "no: not a regular file\n"},
		{name: "put over a symlink", chunks: []string{"put>out>1\n"}, want: "no: not a regular file\n"},
		{name: "put escaping", chunks: []string{"put>../evil>1\n"}, want: "no: refused\n"},
		{name: "put through a symlink out", chunks: []string{"put>sub/up/x>1\n"}, want: "no: refused\n"},
		{name: "put bad sizes", chunks: []string{"put>a>-1\nput>a>x\nput>a>\nput>a>1099511627777\nput>a>+1\n"}, want: strings.Repeat("no: bad size\n", 5)},
		{name: "put usage", chunks: []string{"put>a\nput>a>1>2\n"}, want: strings.Repeat("no: usage: put>NAME>SIZE\n", 2)},
		{name: "put cut short", chunks: []string{"put>new>10\nabc"}, eof: true, want: "ok\n", wantClose: true, wantFiles: map[string]string{"new": ""}},
		{name: "put cut short keeps the old file", chunks: []string{"put>hello.txt>10\nabc"}, eof: true, want: "ok\n", wantClose: true, wantFiles: map[string]string{"hello.txt": "hi!\n"}},
		{name: "eof mid-transfer finishes it", chunks: []string{"get>hello.txt\nok\n"}, eof: true, want: "yes:4\nhi!\n", wantClose: true},
		{name: "eof after yes", chunks: []string{"get>hello.txt\n"}, eof: true, want: "yes:4\n", wantClose: true},
		{name: "ok without newline at eof", chunks: []string{"get>hello.txt\nok"}, eof: true, want: "yes:4\nhi!\n", wantClose: true},
		{name: "command without newline at eof", chunks: []string{"get>nope"}, eof: true, want: "no: not found\n", wantClose: true},
		{name: "oversize line", chunks: []string{"get>" + strings.Repeat("a", DefaultMaxLine+8)}, want: "error: line longer than 65536 bytes\n", wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, bw := range []bool{false, true} {
				root, f := fileRoot(t)
				chunks := tt.chunks
				if bw {
					if len(strings.Join(chunks, "")) > 1024 {
						continue
					}
					chunks = bytewise(strings.Join(chunks, ""))
				}
				s := f()
				got, closed, err := drive(s, chunks, tt.eof)
				must(t, err)
				s.(Releaser).Release()
				if got != tt.want || closed != tt.wantClose {
					t.Fatalf("byte by byte %v: got %q close=%v, want %q close=%v", bw, got, closed, tt.want, tt.wantClose)
				}
				for name, want := range tt.wantFiles {
					b, err := os.ReadFile(filepath.Join(root, name))
					switch {
					case want == "" && !errors.Is(err, os.ErrNotExist) && len(b) != 0:
						t.Fatalf("%s: holds %q, want nothing", name, b)
					case want != "" && (err != nil || string(b) != want):
						t.Fatalf("%s: holds %q (%v), want %q", name, b, err, want)
					}
				}
				if got := rootEntries(t, root); strings.Contains(got, ".tmp") {
					t.Fatalf("temporary files left: %s", got)
				}
				if b, _ := os.ReadFile(filepath.Join(root, "..", "secret")); string(b) != "secret" {
					t.Fatalf("file outside the root changed: %q", b)
				}
			}
		})
	}
}

// getAll drives a get of name on s, collecting what each Wake writes and
// checking that no single call writes more than fileChunk bytes.
func getAll(t *testing.T, s Session, name string) []byte {
	t.Helper()
	var out bytes.Buffer
	s.Data([]byte("get>"+name+"\n"), t0, &out)
	head, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "yes:") {
		t.Fatalf("get %s: reply %q", name, head)
	}
	st := s.Data([]byte("ok\n"), t0, &out)
	var got []byte
	got = append(got, out.Bytes()...)
	for i := 0; st.More; i++ {
		if i > 1<<16 {
			t.Fatal("get never ends")
		}
		out.Reset()
		st = s.Wake(t0, &out)
		if out.Len() > fileChunk {
			t.Fatalf("one Wake wrote %d bytes, more than %d", out.Len(), fileChunk)
		}
		got = append(got, out.Bytes()...)
	}
	if head != fmt.Sprintf("yes:%d\n", len(got)) {
		t.Fatalf("announced %q, sent %d bytes", head, len(got))
	}
	return got
}

func TestFileRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		size int
		cut  int // the put's bytes arrive in pieces of this size
	}{
		{name: "0", size: 0, cut: 1},
		{name: "1", size: 1, cut: 1},
		{name: "4095", size: 4095, cut: 1000},
		{name: "4096", size: 4096, cut: 4096},
		{name: "4097", size: 4097, cut: 4096},
		{name: "10MiB", size: 10 << 20, cut: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, f := fileRoot(t)
			data := AppendPattern(nil, tt.size, uint64(tt.size))
			s := f()
			defer s.(Releaser).Release()
			var out bytes.Buffer
			s.Data([]byte(fmt.Sprintf("put>up.bin>%d\n", tt.size)), t0, &out)
			if out.String() != "ok\n" {
				t.Fatalf("put: %q", out.String())
			}
			for off := 0; off < len(data); off += tt.cut {
				s.Data(data[off:min(off+tt.cut, len(data))], t0, &out)
			}
			got := getAll(t, s, "up.bin")
			if sha256.Sum256(got) != sha256.Sum256(data) {
				t.Fatalf("got %d bytes back that differ from the %d sent", len(got), len(data))
			}
			if got := rootEntries(t, root); got != "hello.txt in out sub up.bin" {
				t.Fatalf("root holds %s", got)
			}
		})
	}
}

func TestFileGetSendsWhatWasOpened(t *testing.T) {
	root, f := fileRoot(t)
	s := f()
	defer s.(Releaser).Release()
	var out bytes.Buffer
	s.Data([]byte("get>hello.txt\n"), t0, &out)
	// Replace the file after yes: the open file is what is sent.
	must(t, os.WriteFile(filepath.Join(root, "other"), []byte("XXXX"), 0o644))
	must(t, os.Rename(filepath.Join(root, "other"), filepath.Join(root, "hello.txt")))
	st := s.Data([]byte("ok\n"), t0, &out)
	for st.More {
		st = s.Wake(t0, &out)
	}
	if out.String() != "yes:4\nhi!\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestFileReleaseOnReset(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{name: "mid-put", input: "put>hello.txt>100\nabc"},
		{name: "mid-get", input: "get>hello.txt\nok\n"},
		{name: "after yes", input: "get>hello.txt\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, f := fileRoot(t)
			s := f()
			var out bytes.Buffer
			s.Data([]byte(tt.input), t0, &out)
			// The connection is reset: no EOF, only Release.
			s.(Releaser).Release()
			s.(Releaser).Release()
			fs := s.(*fileSession)
			if fs.src != nil || fs.tmp != nil || fs.root != nil {
				t.Fatalf("still held after Release: src %v tmp %v root %v", fs.src, fs.tmp, fs.root)
			}
			if got := rootEntries(t, root); got != initialEntries {
				t.Fatalf("root holds %s, want %s", got, initialEntries)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "hello.txt")); string(b) != "hi!\n" {
				t.Fatalf("hello.txt holds %q", b)
			}
		})
	}
}

func TestFileNew(t *testing.T) {
	p, _ := Lookup("file")
	file := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(file, nil, 0o644))
	for _, o := range []Options{{}, {Root: file}, {Root: file + "-missing"}} {
		if _, err := p.New(o); err == nil {
			t.Errorf("New(%+v) accepted a bad root", o)
		}
	}
}

func TestFileClient(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		rounds  int
		wantErr error
	}{
		{name: "get", file: "hello.txt", rounds: 3},
		{name: "empty file", file: "empty", rounds: 3},
		{name: "missing", file: "nope", rounds: 1, wantErr: ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, f := fileRoot(t)
			must(t, os.WriteFile(filepath.Join(root, "empty"), nil, 0o644))
			p, _ := Lookup("file")
			c, err := p.NewClient(ClientOptions{Name: tt.file})
			must(t, err)
			s := f()
			defer s.(Releaser).Release()
			err = converse(s, c, tt.rounds)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	p, _ := Lookup("file")
	for _, name := range []string{"", "a>b", "a\nb"} {
		if _, err := p.NewClient(ClientOptions{Name: name}); err == nil {
			t.Errorf("NewClient(Name: %q) accepted it", name)
		}
	}
}

func TestFileGetMatcher(t *testing.T) {
	tests := []struct {
		name      string
		framing   Framing
		reply     string
		eof       bool
		wantDone  bool
		wantErr   error
		wantReply string
	}{
		{name: "whole", reply: "yes:3\nabc", wantDone: true, wantReply: "ok\n"},
		{name: "empty", reply: "yes:0\n", wantDone: true, wantReply: "ok\n"},
		{name: "waiting for bytes", reply: "yes:3\nab", wantReply: "ok\n"},
		{name: "short", reply: "yes:3\nab", eof: true, wantErr: ErrShortReply, wantReply: "ok\n"},
		{name: "refused", reply: "no: not found\n", wantDone: true, wantErr: ErrRefused},
		{name: "bad size", reply: "yes:x\n", wantErr: ErrWrongReply},
		{name: "garbage", reply: "hello\n", wantErr: ErrWrongReply},
		{name: "no line yet", reply: "ye"},
		{name: "eof before line", reply: "ye", eof: true, wantErr: ErrShortReply},
		{name: "endless line", reply: strings.Repeat("y", 2000), wantErr: ErrWrongReply},
		// Raw: nothing ends yes:SIZE but its last digit, nor no… but the read.
		{name: "raw whole", framing: Raw, reply: "yes:3abc", wantDone: true, wantReply: "ok"},
		{name: "raw header only", framing: Raw, reply: "yes:3", wantReply: "ok"},
		{name: "raw empty file", framing: Raw, reply: "yes:0", wantDone: true, wantReply: "ok"},
		{name: "raw size still to come", framing: Raw, reply: "yes:"},
		{name: "raw prefix", framing: Raw, reply: "ye"},
		{name: "raw refused", framing: Raw, reply: "no: not found", wantDone: true, wantErr: ErrRefused},
		{name: "raw no size", framing: Raw, reply: "yes:", eof: true, wantErr: ErrWrongReply},
		{name: "raw garbage", framing: Raw, reply: "hello", wantErr: ErrWrongReply},
		{name: "raw short", framing: Raw, reply: "yes:3ab", eof: true, wantErr: ErrShortReply, wantReply: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewFileGetMatcher(tt.framing)
			_, done, err := m.Match([]byte(tt.reply), tt.eof)
			if done != tt.wantDone || !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("done=%v err=%v, want done=%v err=%v", done, err, tt.wantDone, tt.wantErr)
			}
			if r := string(m.(Replier).Reply(nil)); r != tt.wantReply {
				t.Fatalf("Reply %q, want %q", r, tt.wantReply)
			}
			if r := m.(Replier).Reply(nil); len(r) != 0 {
				t.Fatalf("second Reply %q, want nothing", r)
			}
		})
	}
}

func FuzzFileCommand(f *testing.F) {
	for _, s := range []string{"get>a", "get>a>2", "put>a>3", "put>../a>1", "put>a>-1", "get>/x", "get>\x00", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := parseFileCommand(line)
		if err != nil {
			return
		}
		if c.name == "" || c.name[0] == '/' || strings.ContainsAny(c.name, "\x00>") {
			t.Fatalf("accepted name %q", c.name)
		}
		if c.size < 0 || c.size > MaxFileSize || !c.put && c.size != 0 {
			t.Fatalf("accepted size %d", c.size)
		}
	})
}

func FuzzFileSession(f *testing.F) {
	f.Add([]byte("put>a>3\nabcget>a\nok\n"), 4, false)
	f.Add([]byte("get>hello.txt>2\nok\nget>../secret\n"), 1, true)
	f.Add([]byte("put>sub/x>10\nabc"), 2, true)
	f.Add([]byte("get>hello.txt\nok\nget>in\nok\n"), 100, true)
	f.Fuzz(func(t *testing.T, data []byte, cut int, eof bool) {
		root, fac := fileRoot(t)
		cut = 1 + abs(cut)%64
		var chunks []string
		for s := string(data); len(s) > 0; {
			n := min(cut, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		s := fac()
		_, _, err := drive(s, chunks, eof)
		s.(Releaser).Release()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rootEntries(t, root), ".tmp") {
			t.Fatal("temporary file left after Release")
		}
		if b, _ := os.ReadFile(filepath.Join(root, "..", "secret")); string(b) != "secret" {
			t.Fatalf("file outside the root changed: %q", b)
		}
		es, _ := os.ReadDir(filepath.Dir(root))
		if len(es) != 2 {
			t.Fatalf("a file was created outside the root: %d entries", len(es))
		}
	})
}

func FuzzFileGetMatcher(f *testing.F) {
	f.Add([]byte("yes:3\nabc"), 2, true)
	f.Add([]byte("no: not found\n"), 1, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, eof bool) {
		cut = 1 + abs(cut)%64
		m := NewFileGetMatcher(Line)
		var pending []byte
		for off := 0; off < len(data); off += cut {
			pending = append(pending, data[off:min(off+cut, len(data))]...)
			n, done, err := m.Match(pending, eof && off+cut >= len(data))
			if n < 0 || n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			pending = pending[n:]
			if len(pending) > maxFileReplyLine+cut {
				t.Fatalf("matcher leaves %d bytes unconsumed", len(pending))
			}
			if done || err != nil {
				return
			}
		}
	})
}

// TestFileUploadInProgressIsUnreachable: while one client's upload is under
// way, a hostile client that knows (or lists) the temporary file's name can
// neither read the partial upload nor replace it, by any spelling of the
// name; the victim's upload then lands whole under the victim's name.
func TestFileUploadInProgressIsUnreachable(t *testing.T) {
	root, f := fileRoot(t)
	victim := f()
	defer victim.(Releaser).Release()
	var out bytes.Buffer
	victim.Data([]byte("put>victim.txt>10\nhalf-"), t0, &out)
	if out.String() != "ok\n" {
		t.Fatalf("victim's put: %q", out.String())
	}
	var tmp string
	for _, e := range strings.Fields(rootEntries(t, root)) {
		if strings.HasPrefix(e, ".socklab-put-") {
			tmp = e
		}
	}
	if tmp == "" {
		t.Fatalf("no upload in progress in the root: %s", rootEntries(t, root))
	}
	for _, name := range []string{tmp, "./" + tmp, "sub/../" + tmp, "sub//../" + tmp} {
		for _, cmd := range []string{"get>" + name + "\nok\n", "put>" + name + ">5\nEVIL!"} {
			hostile := f()
			got, _, err := drive(hostile, []string{cmd}, false)
			hostile.(Releaser).Release()
			must(t, err)
			if !strings.HasPrefix(got, "no: bad name\n") {
				t.Errorf("hostile %q: got %q, want no: bad name first", cmd, got)
			}
		}
	}
	out.Reset()
	victim.Data([]byte("done!"), t0, &out)
	if b, err := os.ReadFile(filepath.Join(root, "victim.txt")); err != nil || string(b) != "half-done!" {
		t.Fatalf("victim.txt holds %q (%v), want the victim's upload", b, err)
	}
}

// TestFileGetOfFIFORefused: a get of a FIFO is refused without blocking (an
// open for reading waits for a writer, and the session's call would freeze
// its driver), and so is a put over one.
func TestFileGetOfFIFORefused(t *testing.T) {
	root, f := fileRoot(t)
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Let a blocked open go once the test is over, whatever its outcome.
	t.Cleanup(func() {
		if w, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			w.Close()
		}
	})
	s := f()
	defer s.(Releaser).Release()
	done := make(chan string, 1)
	go func() {
		got, _, _ := drive(s, []string{"get>fifo\n", "put>fifo>1\n"}, false)
		done <- got
	}()
	select {
	case got := <-done:
		if want := "no: not a regular file\nno: not a regular file\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("get of a FIFO blocked the session call")
	}
}
