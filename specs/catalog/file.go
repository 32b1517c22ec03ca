package catalog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// File protocol fixtures: the file every generic spec downloads, and a
// large one for partial-send and abandoned-reply.
const (
	fixtureName = "socklab-fixture.txt"
	largeName   = "socklab-large.bin"
	largeSize   = 8 << 20
)

var (
	// fixtureData is 1 KiB, a whole number of the tutorials' chunks: the
	// generic specs' downloads do not depend on last-chunk handling, which
	// file-get checks with getData.
	fixtureData = bytes.Repeat([]byte("socklab fixture: generic specs download this file.\n"), 1024/51+1)[:1024]
	getName     = "socklab-get.txt"
	getData     = protocol.AppendPattern(nil, 3000, 13)
	putSizes    = []int{0, 1, 4095, 4096, 4097, 10 << 20}
)

// putFixtures writes the fixtures on disk when the root is known, else
// uploads them with put (Target.Setup).
func putFixtures(tg *Target) error {
	files := []struct {
		name string
		data []byte
	}{
		{fixtureName, fixtureData},
		{largeName, protocol.AppendPattern(nil, largeSize, 11)},
		{getName, getData},
	}
	if tg.Root != "" {
		for _, f := range files {
			// os.WriteFile's error names the path.
			if err := os.WriteFile(filepath.Join(tg.Root, f.name), f.data, 0o644); err != nil {
				return fmt.Errorf("the file fixture %s could not be written under --root: %w", f.name, err)
			}
		}
		return nil
	}
	conn, err := wire.Dial(tg.Network, tg.Addr, tg.Timeout)
	if err != nil {
		return fmt.Errorf("the file fixtures could not be uploaded: %w", err)
	}
	defer conn.Close()
	p, err := protocol.Lookup(tg.Protocol)
	if err != nil {
		return err
	}
	pc, err := p.NewClient(protocol.ClientOptions{Options: tg.Options, Name: fixtureName})
	if err != nil {
		return err
	}
	// The file helpers take a client of a behaviour; the set-up's reports
	// through no T: they return their errors.
	c := &client{Conn: conn, s: &spec{Target: tg, id: "set-up"}, pc: pc}
	for _, f := range files {
		if err := filePut(c, f.name, f.data); err != nil {
			return fmt.Errorf("the file fixture %s could not be uploaded with put: %w", f.name, err)
		}
	}
	return nil
}

// errNo is a file protocol refusal.
var errNo = errors.New("refused")

// The file helpers below speak the tutorial's format under either framing:
// the requests and the ok come from the protocol package (AppendFileGet,
// AppendFilePut, AppendFileOK), the server's messages are read with
// client.message (a line, or under raw framing one read), and under raw
// framing a message that gets no answer is followed by client.settle. So a
// raw server is judged by what it does with files, never by a newline.

// filePut uploads data under name.
func filePut(c *client, name string, data []byte) error {
	if err := c.Write(protocol.AppendFilePut(nil, name, int64(len(data)), c.s.framing())); err != nil {
		return err
	}
	msg, err := c.message()
	if err != nil {
		return fmt.Errorf("put>%s: %w", name, err)
	}
	if msg != "ok" {
		if strings.HasPrefix(msg, "no") {
			return fmt.Errorf("put>%s>%d answered %q: %w", name, len(data), msg, errNo)
		}
		return fmt.Errorf("put>%s>%d answered %q, want ok or no…", name, len(data), msg)
	}
	if len(data) > 0 {
		if err := c.WriteWithin(data, 4*c.s.Timeout); err != nil {
			return err
		}
		// No answer follows the bytes.
		if err := c.settle(); err != nil {
			return fmt.Errorf("put>%s>%d: %w", name, len(data), err)
		}
	}
	return nil
}

// fileGetSize sends a get of name and reads its answer: the announced size,
// or an error wrapping errNo for a refusal.
func fileGetSize(c *client, name string) (int, error) {
	if err := c.Write(protocol.AppendFileGet(nil, name, c.s.framing())); err != nil {
		return 0, err
	}
	msg, err := c.message()
	if err != nil {
		return 0, fmt.Errorf("get>%s: %w", name, err)
	}
	size, ok := strings.CutPrefix(msg, "yes:")
	if !ok {
		if strings.HasPrefix(msg, "no") {
			return 0, fmt.Errorf("get>%s answered %q: %w", name, msg, errNo)
		}
		return 0, fmt.Errorf("get>%s answered %s, want yes:SIZE or no…", name, quote([]byte(msg)))
	}
	n, err := strconv.Atoi(strings.TrimSpace(size))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("get>%s answered %q: the size is not a number", name, msg)
	}
	return n, nil
}

// fileOK sends the ok that asks for a get's n bytes.
func fileOK(c *client, n int) error {
	if err := c.Write(protocol.AppendFileOK(nil, c.s.framing())); err != nil {
		return err
	}
	if n == 0 {
		// No bytes answer the ok of an empty file.
		return c.settle()
	}
	return nil
}

// fileGet downloads name.
func fileGet(c *client, name string) ([]byte, error) {
	n, err := fileGetSize(c, name)
	if err != nil {
		return nil, err
	}
	if err := fileOK(c, n); err != nil {
		return nil, fmt.Errorf("get>%s: %w", name, err)
	}
	bm := &bytesCollector{n: n}
	if err := c.ExpectWithin(bm, 4*c.s.Timeout); err != nil {
		return nil, fmt.Errorf("get>%s, %d bytes: %w", name, n, err)
	}
	return bm.got, nil
}

// fileSpecs: the get/put file protocol.
func init() {
	behave("file-get", func(s *spec) {
		c := connectNoGreeting(s)
		got, err := fileGet(c, getName)
		s.check(err, fmt.Sprintf("get of %s (%d bytes) to answer yes:SIZE and its bytes", getName, len(getData)), "the server cannot find files relative to its root, or sends one byte short on a partial last chunk")
		if !bytes.Equal(got, getData) {
			s.failf(fmt.Sprintf("the %d bytes of %s", len(getData), getName), "the bytes "+quote(got), "an off-by-one on the last chunk, or the size sent before the file was read")
		}
	})

	behave("file-get-missing", func(s *spec) {
		c := connectNoGreeting(s)
		_, err := fileGet(c, "socklab-no-such-file")
		if !errors.Is(err, errNo) {
			s.failf("get of a missing file answered with a no… line", fmt.Sprint(err), "the server does not check that the file exists, or crashes the handler on the error")
		}
		got, err := fileGet(c, fixtureName)
		if err != nil || !bytes.Equal(got, fixtureData) {
			s.failf("the same connection still usable after the refusal", fmt.Sprint(err), "the server closed or desynchronised the connection after refusing")
		}
	})

	behave("file-put", func(s *spec) {
		c := connectNoGreeting(s)
		for _, size := range putSizes {
			name := fmt.Sprintf("socklab-put-%d.bin", size)
			data := protocol.AppendPattern(nil, size, uint64(size)+1)
			s.check(filePut(c, name, data), fmt.Sprintf("put of %d bytes accepted", size), "the server refuses uploads, or expects another command format")
			got, err := fileGet(c, name)
			s.check(err, fmt.Sprintf("get after a put of %d bytes", size), "the upload never landed under its name, or the last chunk was lost (an off-by-one in the chunk loop)")
			if sha256.Sum256(got) != sha256.Sum256(data) {
				s.failf(fmt.Sprintf("the %d bytes put (SHA-256 %x…)", size, sha256.Sum256(data)), fmt.Sprintf("%d bytes (SHA-256 %x…)", len(got), sha256.Sum256(got)),
					"an off-by-one on the last chunk, a size check that stops early, or text-mode writes")
			}
			if s.Root != "" {
				disk, err := os.ReadFile(filepath.Join(s.Root, name))
				if err != nil || !bytes.Equal(disk, data) {
					s.failf("the uploaded bytes on disk under the root", fmt.Sprintf("%d bytes, %v", len(disk), err), "the server writes somewhere other than its root")
				}
			}
		}
	})

	behave("path-traversal", func(s *spec) {
		secret := ""
		if s.Root != "" {
			secret = filepath.Join(filepath.Dir(s.Root), "socklab-secret.txt")
			s.check(os.WriteFile(secret, []byte("outside the root"), 0o644), "a file planted beside the root", "the directory above the root is not writable")
			s.cleanup(func() { _ = os.Remove(secret) })
		}
		c := connectNoGreeting(s)
		for _, name := range []string{"../socklab-secret.txt", "../../../../../../etc/hostname", "/etc/hostname", "sub/../../socklab-secret.txt"} {
			got, err := fileGet(c, name)
			if !errors.Is(err, errNo) {
				s.failf("get>"+name+" refused with no…", fmt.Sprintf("%d bytes, %v", len(got), err),
					"the server joins the name to its root without confining it (os.path.join, no check that the result stays inside)")
			}
		}
		escape := "socklab-escape-" + uniqueSuffix()
		for _, name := range []string{"../" + escape, "/tmp/" + escape} {
			err := filePut(c, name, []byte("xx"))
			if !errors.Is(err, errNo) {
				s.failf("put>"+name+" refused with no…", fmt.Sprint(err), "the server writes wherever the name points")
			}
		}
		if s.Root != "" {
			if _, err := os.Stat(filepath.Join(filepath.Dir(s.Root), escape)); err == nil {
				s.failf("nothing written outside the root", "a file "+escape+" beside the root", "the server writes wherever the name points")
			}
		}
		if _, err := os.Stat("/tmp/" + escape); err == nil && !s.External {
			s.failf("nothing written outside the root", "a file /tmp/"+escape, "the server writes wherever the name points")
		}
	})

	behave("interrupted-put", func(s *spec) {
		name := "socklab-interrupted-" + uniqueSuffix() + ".bin"
		c := connectNoGreeting(s)
		old := protocol.AppendPattern(nil, 1024, 17) // whole chunks, like fixtureData
		s.check(filePut(c, name, old), "a first, complete put", "the server's put does not work")
		_, err := fileGet(c, name)
		s.check(err, "the first put to land", "the server's put does not work")
		c.Close() // one connection at a time: a server may declare a capacity of 1
		cut := connectNoGreeting(s)
		s.check(cut.Write(protocol.AppendFilePut(nil, name, 1<<20, s.framing())), "a put to be sent", "")
		msg, err := cut.message()
		s.check(err, "ok to the put", "the server's put does not work")
		if msg != "ok" {
			s.failf("ok to the put", quote([]byte(msg)), "the server refuses uploads over an existing file")
		}
		s.check(cut.Write(protocol.AppendPattern(nil, 100<<10, 5)), "the first 100 KiB to be sent", "")
		s.check(cut.Reset(), "a reset mid-upload", "")
		// Look a few times while the server digests the cut upload.
		c = connectNoGreeting(s)
		for i := 0; i < 5; i++ {
			got, err := fileGet(c, name)
			if err != nil && !errors.Is(err, errNo) {
				s.failf("get after a cut upload to answer no or the previous content", err.Error(), "the server broke the connection")
			}
			if err == nil && !bytes.Equal(got, old) {
				s.failf("get after a cut upload to answer no or the previous complete content",
					fmt.Sprintf("%d bytes of a partial upload", len(got)),
					"the server writes uploads in place (open(name, 'wb') then write as bytes arrive) instead of writing aside and renaming when complete")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// filePartialSend is partial-send for the file protocol: the large file to
// a slow reader with a small receive buffer.
func filePartialSend(s *spec) {
	conn, err := wire.DialSmallBuffer(s.Network, s.Addr, smallRcvBuf, s.Timeout)
	s.check(err, "a connection to "+s.Addr, "the server is not listening")
	defer conn.Close()
	c := &client{Conn: conn, s: s, pc: newProtocolClient(s, protocol.ClientOptions{})}
	n, err := fileGetSize(c, largeName)
	s.check(err, fmt.Sprintf("yes:%d", largeSize), "the server's get does not work")
	if n != largeSize {
		s.failf(fmt.Sprintf("yes:%d", largeSize), fmt.Sprintf("yes:%d", n), "the server's get does not work")
	}
	s.check(fileOK(c, n), "ok to be sent", "")
	time.Sleep(slowStart)
	want := protocol.AppendPattern(nil, largeSize, 11)
	if err := c.ExpectWithin(exactBytes(want), 4*s.Timeout); err != nil {
		s.failf(fmt.Sprintf("all %d bytes of %s in order", largeSize, largeName), err.Error(),
			"the server ignores send()'s return value: a send on a full socket writes only part of the buffer")
	}
}

// fileAbandon asks for the large file and leaves without reading it.
func fileAbandon(s *spec, c *client) {
	n, err := fileGetSize(c, largeName)
	s.check(err, "yes:SIZE to a get of "+largeName, "the server's get does not work")
	s.check(fileOK(c, n), "the ok to be sent", "")
	c.AwaitUnread(abandonWait)
}

// maxFileGet bounds the size of a download the suite collects: the largest
// file a behaviour gets back is file-put's 10 MiB.
const maxFileGet = 16 << 20

// bytesCollector collects exactly n bytes, at most maxFileGet.
type bytesCollector struct {
	n   int
	got []byte
}

func (m *bytesCollector) Match(p []byte, eof bool) (int, bool, error) {
	if len(m.got)+len(p) > maxFileGet && m.n > maxFileGet {
		return 0, false, &wire.TooMuchError{Limit: maxFileGet, While: fmt.Sprintf("of a file it announced as %d bytes", m.n)}
	}
	k := min(len(p), m.n-len(m.got))
	m.got = append(m.got, p[:k]...)
	if len(m.got) == m.n {
		return k, true, nil
	}
	if eof {
		return k, false, fmt.Errorf("%w: %d of %d bytes, then EOF", protocol.ErrShortReply, len(m.got), m.n)
	}
	return k, false, nil
}
