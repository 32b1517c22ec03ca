package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxFileSize is the largest upload the file protocol accepts (1 TiB).
const MaxFileSize = 1 << 40

// fileChunk is the most a file session appends to out per call while it
// streams a get, so memory stays bounded whatever the file's size.
const fileChunk = 64 << 10

func init() {
	register(Protocol{
		Name:    "file",
		Summary: "get>NAME → yes:SIZE, ok, bytes; put>NAME>SIZE → ok, bytes; names confined to --root",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			if err := checkMaxLine(o.MaxLine); err != nil {
				return nil, err
			}
			if o.Root == "" {
				return nil, errors.New("file: a root directory is required")
			}
			fi, err := os.Stat(o.Root)
			if err != nil {
				return nil, fmt.Errorf("file: root: %w", err)
			}
			if !fi.IsDir() {
				return nil, fmt.Errorf("file: root %s: not a directory", o.Root)
			}
			root, f, maxLine := o.Root, o.Framing, o.MaxLine
			return func() Session { return newFileSession(root, f, maxLine) }, nil
		},
		NewClient: newFileClient,
	})
}

// fileMode is where a file session is in the lock-step exchange.
type fileMode int

const (
	fileCommand   fileMode = iota // reading command lines
	fileAwaitOK                   // sent yes:SIZE, the next line must be ok
	fileSending                   // streaming a get's bytes
	fileReceiving                 // reading a put's raw bytes
)

// fileSession is the get/put server of the socketserver tutorial, made
// lock-step; each message below ends in "\n" under Line framing and is one
// read (one send of the client's) under Raw, the tutorial's own format:
//
//	get>NAME[>...]  →  yes:SIZE | no: REASON
//	ok              →  SIZE bytes of the file  (any other message cancels)
//	put>NAME>SIZE   →  ok | no: REASON, then SIZE raw bytes from the client
//
// The tutorial's client sends get>NAME>2; the fields after NAME are ignored.
// Under Raw, what a read holds after a put's last byte is the next message.
//
// A put sends nothing after its bytes, as in the tutorial; its bytes go to a
// temporary file in the root, renamed over NAME only once all SIZE bytes
// arrived, so an interrupted upload never leaves a partial file under NAME.
// The temporary file is out of every client's reach: its name starts with
// tmpPrefix, which the name check refuses in any component of a name, and
// ends in random bytes, so another client can neither read a partial upload
// (get) nor replace it (put) before it lands under the uploader's name.
// Refusals and unknown commands get a "no: …" line and the connection stays
// usable. Names are resolved with os.Root, which refuses ".." escapes,
// absolute paths and symlinks that leave the root.
//
// The session holds an open root, a file being sent and a temporary file
// being received. It releases them itself when it closes; a driver whose
// connection ends any other way (a reset, a server shutdown) must call
// Release, which the session implements (see Releaser).
type fileSession struct {
	rootDir string
	root    *os.Root
	frame   framer
	mode    fileMode
	closed  bool
	eof     bool // the peer half-closed, maybe mid-transfer

	// get
	src  *os.File
	left int64 // bytes left to send or to receive
	// input that arrived during a get's transfer, or while the replies
	// owed were over HighWater: handled after it (see lineSession)
	held     []byte
	overflow bool

	// put
	tmp     *os.File
	tmpName string
	dstName string
	putErr  error
}

func newFileSession(root string, f Framing, maxLine int) *fileSession {
	return &fileSession{rootDir: root, frame: newFramer(f, maxLine)}
}

func (*fileSession) Open(time.Time, *bytes.Buffer) Step { return Step{} }

// step says what the session owes; a command line is under way (Partial)
// from its first byte to its end, and a put's bytes are not.
func (s *fileSession) step() Step {
	commands := s.mode == fileCommand || s.mode == fileAwaitOK
	return Step{
		Close:   s.closed,
		More:    !s.closed && (s.mode == fileSending || len(s.held) > 0),
		Partial: !s.closed && commands && len(s.held) == 0 && s.frame.partial(),
	}
}

func (s *fileSession) Data(in []byte, _ time.Time, out *bytes.Buffer) Step {
	if len(s.held) > 0 && s.mode != fileSending {
		s.held = append(s.held, in...) // in order, behind what is held
		return s.step()
	}
	s.consume(in, out)
	return s.step()
}

// consume handles input in the current mode. Command lines are answered
// while the replies owed stay under HighWater (a line of garbage gets a
// 20-byte refusal); past it the rest is held for Wake.
func (s *fileSession) consume(in []byte, out *bytes.Buffer) {
	for !s.closed && len(in) > 0 {
		if s.mode != fileSending && s.mode != fileReceiving && out.Len() >= HighWater && s.frame.f == Line {
			s.held = append(s.held, in...)
			return
		}
		switch s.mode {
		case fileSending:
			// A lock-step client waits for the bytes; one that sends on
			// is held to a bound and served after the transfer.
			if len(s.held)+len(in) > s.frame.max()+2 {
				s.overflow = true
			} else {
				s.held = append(s.held, in...)
			}
			return
		case fileReceiving:
			in = in[s.receive(in):]
			continue
		}
		line, rest, ok, err := s.frame.next(in)
		in = rest
		switch {
		case err != nil:
			s.frame.writeTooLong(out)
			s.close()
		case ok:
			s.line(line, out)
		}
	}
}

// line handles one command line, or the answer to yes:SIZE.
func (s *fileSession) line(line []byte, out *bytes.Buffer) {
	if s.mode == fileAwaitOK {
		if string(line) == "ok" {
			s.mode = fileSending
		} else {
			s.endGet() // cancelled; the line is otherwise ignored
		}
		return
	}
	cmd, err := parseFileCommand(line)
	if err != nil {
		s.reply(out, "no: "+err.Error())
		return
	}
	if cmd.put {
		s.startPut(cmd, out)
	} else {
		s.startGet(cmd, out)
	}
}

// fileRequest is a parsed get or put line.
type fileRequest struct {
	put  bool
	name string
	size int64
}

// Command errors; their text is the reply after "no: ".
var (
	errUnknownCommand = errors.New("unknown command")
	errBadName        = errors.New("bad name")
	errBadSize        = errors.New("bad size")
	errPutUsage       = errors.New("usage: put>NAME>SIZE")
)

// parseFileCommand parses "get>NAME[>...]" or "put>NAME>SIZE".
func parseFileCommand(line []byte) (fileRequest, error) {
	fields := strings.Split(string(line), ">")
	var c fileRequest
	switch {
	case fields[0] == "get" && len(fields) >= 2:
	case fields[0] == "put" && len(fields) == 3:
		c.put = true
		n, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || !allDigits([]byte(fields[2])) || n > MaxFileSize {
			return c, errBadSize
		}
		c.size = n
	case fields[0] == "put":
		return c, errPutUsage
	default:
		return c, errUnknownCommand
	}
	c.name = fields[1]
	if c.name == "" || strings.ContainsRune(c.name, 0) || c.name[0] == '/' || reserved(c.name) {
		return c, errBadName
	}
	return c, nil
}

// tmpPrefix starts the name of every upload in progress. Names with a
// component that starts with it are refused, so uploads in progress are
// invisible through the protocol.
const tmpPrefix = ".socklab-put-"

// reserved reports whether a component of name starts with tmpPrefix. Every
// component is checked, not only the last: "sub/../.socklab-put-…" or a
// symlink to the root ("link/.socklab-put-…") reach the root too.
func reserved(name string) bool {
	for c := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(c, tmpPrefix) {
			return true
		}
	}
	return false
}

// reply writes one message of the server's, with its terminator.
func (s *fileSession) reply(out *bytes.Buffer, msg string) {
	out.WriteString(msg)
	s.frame.end(out)
}

// openRoot opens the root on first use, so that a session that never
// names a file holds no descriptor.
func (s *fileSession) openRoot() (*os.Root, error) {
	if s.root == nil {
		r, err := os.OpenRoot(s.rootDir)
		if err != nil {
			return nil, err
		}
		s.root = r
	}
	return s.root, nil
}

// refusal turns a filesystem error into the text of a "no:" line, without
// the server's paths.
func refusal(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, errNotRegular):
		return errNotRegular.Error()
	}
	return "refused"
}

func (s *fileSession) startGet(c fileRequest, out *bytes.Buffer) {
	root, err := s.openRoot()
	if err != nil {
		s.reply(out, "no: "+refusal(err))
		return
	}
	f, err := openRegular(root, c.name)
	if err != nil {
		s.reply(out, "no: "+refusal(err))
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		s.reply(out, "no: "+refusal(err))
		return
	}
	s.src, s.left, s.mode = f, fi.Size(), fileAwaitOK
	s.reply(out, "yes:"+strconv.FormatInt(s.left, 10))
}

// errNotRegular refuses a get of a directory, a FIFO, a socket or a device.
var errNotRegular = errors.New("not a regular file")

// openRegular opens name under root for reading if it is a regular file,
// without ever blocking: opening a FIFO for reading waits for a writer, and
// would freeze a reactor's every connection (a device may block, or act on
// being opened). Non-regular files are refused before they are opened, and
// the open itself is non-blocking and checked again with fstat, in case the
// name was replaced in between.
func openRegular(root *os.Root, name string) (*os.File, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular
	}
	return f, nil
}

// Wake streams the next part of a get once out has drained, or answers
// the input held while the replies owed were over HighWater.
func (s *fileSession) Wake(_ time.Time, out *bytes.Buffer) Step {
	switch {
	case s.closed:
	case s.mode == fileSending:
		s.send(out)
	case len(s.held) > 0:
		s.resume(out)
	}
	return s.step()
}

// send appends the next part of a get.
func (s *fileSession) send(out *bytes.Buffer) {
	n := int(min(s.left, fileChunk))
	out.Grow(n)
	buf := out.AvailableBuffer()[:n]
	k, err := io.ReadFull(s.src, buf)
	out.Write(buf[:k])
	s.left -= int64(k)
	if err != nil && s.left > 0 {
		// The file shrank under us: SIZE bytes were promised and cannot
		// be sent, so the only honest end is to close.
		s.close()
		return
	}
	if s.left == 0 {
		s.endGet()
		s.resume(out)
	}
}

// resume handles the input held during a transfer or while the replies
// owed were over HighWater, then an EOF that came behind it.
func (s *fileSession) resume(out *bytes.Buffer) {
	held, overflow := s.held, s.overflow
	s.held, s.overflow = nil, false
	if overflow {
		s.reply(out, "error: too much input during a transfer")
		s.close()
		return
	}
	s.consume(held, out)
	if s.eof && len(s.held) == 0 {
		s.endInput(out)
	}
}

// endGet closes the file of a finished or cancelled get.
func (s *fileSession) endGet() {
	if s.src != nil {
		s.src.Close()
		s.src = nil
	}
	s.left = 0
	s.mode = fileCommand
}

// tmpName returns a fresh name for an upload in progress: the prefix the
// name check refuses, the pid (for whoever cleans up after a crash) and 128
// random bits, so that the name cannot be guessed either.
func tmpName() string {
	return fmt.Sprintf("%s%d-%s.tmp", tmpPrefix, os.Getpid(), rand.Text())
}

func (s *fileSession) startPut(c fileRequest, out *bytes.Buffer) {
	root, err := s.openRoot()
	if err != nil {
		s.reply(out, "no: "+refusal(err))
		return
	}
	// Refuse now what the final rename would refuse: a parent that is
	// missing or outside the root, a target that is not a regular file.
	if dir := path.Dir(c.name); dir != "." {
		fi, err := root.Stat(dir)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			s.reply(out, "no: "+refusal(err))
			return
		case err != nil || !fi.IsDir():
			s.reply(out, "no: no such directory")
			return
		}
	}
	if fi, err := root.Lstat(c.name); err == nil && !fi.Mode().IsRegular() {
		s.reply(out, "no: not a regular file")
		return
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.reply(out, "no: "+refusal(err))
		return
	}
	name := tmpName()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		s.reply(out, "no: "+refusal(err))
		return
	}
	s.tmp, s.tmpName, s.dstName, s.left, s.putErr = f, name, c.name, c.size, nil
	s.mode = fileReceiving
	s.reply(out, "ok")
	if s.left == 0 {
		s.endPut()
	}
}

// receive writes a put's bytes and reports how many of in it took.
func (s *fileSession) receive(in []byte) int {
	n := int(min(s.left, int64(len(in))))
	if s.putErr == nil {
		_, s.putErr = s.tmp.Write(in[:n])
	}
	s.left -= int64(n)
	if s.left == 0 {
		s.endPut()
	}
	return n
}

// endPut lands a complete upload under its name. The wire format has no
// reply after the bytes, so a failure here (a full disk) is visible only to
// a later get.
func (s *fileSession) endPut() {
	err := s.tmp.Close()
	s.tmp = nil
	if err == nil && s.putErr == nil {
		err = s.root.Rename(s.tmpName, s.dstName)
	}
	if err != nil || s.putErr != nil {
		s.root.Remove(s.tmpName)
	}
	s.tmpName, s.dstName, s.mode = "", "", fileCommand
}

// abortPut drops an unfinished upload: nothing under its name changes.
func (s *fileSession) abortPut() {
	if s.tmp != nil {
		s.tmp.Close()
		s.tmp = nil
		s.root.Remove(s.tmpName)
	}
	s.tmpName, s.dstName = "", ""
}

// EOF finishes a get already under way (the client can still read), then
// closes; it drops an unfinished upload.
func (s *fileSession) EOF(_ time.Time, out *bytes.Buffer) Step {
	if s.closed {
		return s.step()
	}
	s.eof = true
	if s.mode == fileSending || len(s.held) > 0 {
		return s.step() // Wake ends the input once the transfer or the held input is done
	}
	s.endInput(out)
	return s.step()
}

// endInput handles the end of the peer's input outside a transfer: an
// unfinished last line is a command, then the session closes.
func (s *fileSession) endInput(out *bytes.Buffer) {
	if s.mode == fileCommand || s.mode == fileAwaitOK {
		line, ok, err := s.frame.flush()
		switch {
		case err != nil:
			s.frame.writeTooLong(out)
		case ok:
			s.line(line, out)
		}
	}
	if s.mode == fileSending {
		return // "get>x" then "ok" without a newline: send, then close
	}
	s.close()
}

// close ends the session and releases what it holds.
func (s *fileSession) close() {
	s.closed = true
	s.Release()
}

// Release closes the file being sent, removes an unfinished upload and
// closes the root. It is idempotent.
func (s *fileSession) Release() {
	s.endGet()
	s.abortPut()
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
	s.held = nil
}
