package broken

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/socklab/socklab/protocol"
)

// fileCommand returns the command line at the start of in, if any.
func fileCommand(in []byte) (verb string, args []string, ok bool) {
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return "", nil, false
	}
	parts := strings.Split(strings.TrimSuffix(string(in[:i]), "\r"), ">")
	return parts[0], parts[1:], true
}

// silentRefusal sends nothing when a get names a missing file, as the
// tutorial's server only prints 不予下载 on its own console.
type silentRefusal struct{ session }

func (s silentRefusal) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	st := s.Session.Data(in, now, out)
	verb, args, ok := fileCommand(in)
	if ok && verb == "get" && len(args) > 0 && !strings.ContainsAny(args[0], "/") && bytes.HasPrefix(out.Bytes()[n:], []byte("no")) {
		out.Truncate(n)
	}
	return st
}

// inPlacePut also writes each upload's bytes straight to its name as they
// arrive (open(name, 'wb'), write per recv), beside the real session's
// write-aside-and-rename.
type inPlacePut struct {
	session
	root string
	st   *putState
}

type putState struct {
	f    *os.File
	left int64
}

func (s inPlacePut) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if s.st.f != nil {
		k := min(int64(len(in)), s.st.left)
		s.st.f.Write(in[:k])
		s.st.left -= k
		if s.st.left == 0 {
			s.st.f.Close()
			s.st.f = nil
		}
		return s.Session.Data(in, now, out)
	}
	n := out.Len()
	st := s.Session.Data(in, now, out)
	verb, args, ok := fileCommand(in)
	if ok && verb == "put" && len(args) == 2 && bytes.HasPrefix(out.Bytes()[n:], []byte("ok")) {
		size, err := strconv.ParseInt(args[1], 10, 64)
		if err == nil && size > 0 {
			if f, err := os.Create(filepath.Join(s.root, args[0])); err == nil {
				s.st.f, s.st.left = f, size
			}
		}
	}
	return st
}

func (s inPlacePut) Release() {
	if s.st.f != nil {
		s.st.f.Close()
		s.st.f = nil
	}
	s.session.Release()
}

// chunkShort stops its receive loop one 4096-byte chunk early when an
// upload's size is an exact multiple of the chunk: the bytes of that chunk
// are read and dropped, and the session waits for them forever.
type chunkShort struct {
	session
	st *shortState
}

type shortState struct {
	forward, drop int64
}

const uploadChunk = 4096

func (s chunkShort) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if s.st.forward > 0 || s.st.drop > 0 {
		k := min(int64(len(in)), s.st.forward)
		s.st.forward -= k
		st := s.Session.Data(in[:k], now, out)
		rest := in[k:]
		d := min(int64(len(rest)), s.st.drop)
		s.st.drop -= d
		if rest = rest[d:]; len(rest) > 0 {
			st = st.Merge(s.Session.Data(rest, now, out))
		}
		return st
	}
	n := out.Len()
	st := s.Session.Data(in, now, out)
	verb, args, ok := fileCommand(in)
	if ok && verb == "put" && len(args) == 2 && bytes.HasPrefix(out.Bytes()[n:], []byte("ok")) {
		size, err := strconv.ParseInt(args[1], 10, 64)
		if err == nil && size > 0 && size%uploadChunk == 0 {
			s.st.forward, s.st.drop = size-uploadChunk, uploadChunk
		}
	}
	return st
}

// unconfinedGet serves a get of any path joined to the root, without
// checking that the result stays inside it (os.path.join).
type unconfinedGet struct {
	session
	root    string
	pending *[]byte
}

func (s unconfinedGet) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if *s.pending != nil {
		if bytes.HasPrefix(in, []byte("ok\n")) {
			out.Write(*s.pending)
			*s.pending = nil
			return protocol.Step{}
		}
		*s.pending = nil
	}
	verb, args, ok := fileCommand(in)
	if ok && verb == "get" && len(args) > 0 && (strings.Contains(args[0], "..") || strings.HasPrefix(args[0], "/")) {
		data, err := os.ReadFile(filepath.Join(s.root, args[0]))
		if err != nil {
			fmt.Fprintf(out, "no: %v\n", err)
			return protocol.Step{}
		}
		fmt.Fprintf(out, "yes:%d\n", len(data))
		*s.pending = data
		return protocol.Step{}
	}
	return s.Session.Data(in, now, out)
}

// shortLastChunk sends a download one byte short when its last chunk is
// partial (size - sent < 1024: send(f.read(size - sent - 1))).
type shortLastChunk struct {
	session
	st *shortGet
}

type shortGet struct {
	announced int64 // from yes:SIZE, waiting for ok
	left      int64 // bytes of the file still to go out
}

func (s shortLastChunk) track(out *bytes.Buffer, start int, st protocol.Step) protocol.Step {
	b := out.Bytes()[start:]
	if s.st.left == 0 && bytes.HasPrefix(b, []byte("yes:")) {
		if i := bytes.IndexByte(b, '\n'); i > 0 {
			n, err := strconv.ParseInt(string(b[4:i]), 10, 64)
			if err == nil && n%1024 != 0 {
				s.st.announced = n
			}
		}
		return st
	}
	if s.st.left > 0 {
		k := min(int64(len(b)), s.st.left)
		s.st.left -= k
		if s.st.left == 0 {
			out.Truncate(start + int(k) - 1)
		}
	}
	return st
}

func (s shortLastChunk) Data(in []byte, now time.Time, out *bytes.Buffer) protocol.Step {
	if s.st.announced > 0 && bytes.HasPrefix(in, []byte("ok")) {
		s.st.left, s.st.announced = s.st.announced, 0
	} else {
		s.st.announced = 0
	}
	n := out.Len()
	return s.track(out, n, s.Session.Data(in, now, out))
}

func (s shortLastChunk) Wake(now time.Time, out *bytes.Buffer) protocol.Step {
	n := out.Len()
	return s.track(out, n, s.Session.Wake(now, out))
}
