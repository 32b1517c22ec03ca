package thread

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair returns a connected pair of Unix stream descriptors, closed at
// the end of the test unless the test closes them first.
func socketPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestWriteCompletesPartialWrites(t *testing.T) {
	// A blocking write(2) rarely returns short, so the test makes the
	// descriptor non-blocking with a small send buffer: every write then
	// takes part of what is offered or fails with EAGAIN, and Write must
	// carry on until all is sent.
	w, r := socketPair(t)
	if err := unix.SetNonblock(w, true); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(w, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	got := make(chan []byte, 1)
	go func() {
		var all []byte
		buf := make([]byte, 1000)
		for len(all) < len(payload) {
			n, err := unix.Read(r, buf)
			if n <= 0 || err != nil {
				break
			}
			all = append(all, buf[:n]...)
		}
		got <- all
	}()
	c := &fdConn{fd: w}
	n, err := c.Write(payload)
	unix.Shutdown(w, unix.SHUT_WR) // the reader stops at EOF, whatever was sent
	if err != nil || n != len(payload) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(payload))
	}
	if all := <-got; !bytes.Equal(all, payload) {
		t.Fatalf("peer read %d bytes, want the %d written, equal", len(all), len(payload))
	}
}

func TestReadDeadline(t *testing.T) {
	a, _ := socketPair(t)
	c := &fdConn{fd: a}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with a passed deadline = %d, %v; want os.ErrDeadlineExceeded", n, err)
	}
}

func TestShutdownWakesBlockedRead(t *testing.T) {
	// Server Close relies on this: closing a descriptor does not wake a
	// thread blocked in read(2) on it, shutdown(2) does.
	a, _ := socketPair(t)
	c := &fdConn{fd: a}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	// Whether shutdown comes before or during the read, the read ends.
	if err := c.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("blocked Read after shutdown: %v, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked 10s after shutdown")
	}
}

func TestWriteToClosedPeerIsEPIPE(t *testing.T) {
	// A write to a socket whose peer is gone must fail with EPIPE and
	// leave the process alive: Go ignores SIGPIPE on such descriptors.
	a, b := socketPair(t)
	unix.Close(b)
	c := &fdConn{fd: a}
	if _, err := c.Write([]byte("anyone there?")); !errors.Is(err, unix.EPIPE) {
		t.Fatalf("Write to a closed peer: %v, want EPIPE", err)
	}
}

func TestCloseIsIdempotentAndStopsShutdown(t *testing.T) {
	a, _ := socketPair(t)
	c := &fdConn{fd: a}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// After Close the number may belong to another socket: shutdown
	// must not reach it.
	if err := c.shutdown(); err != nil {
		t.Fatalf("shutdown after Close: %v", err)
	}
	if err := c.CloseWrite(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("CloseWrite after Close: %v, want os.ErrClosed", err)
	}
}

// TestWriteDeadline: a blocking write to a peer that reads nothing returns
// at the write deadline with what it wrote, so that the idle timeout can
// free the connection's thread.
func TestWriteDeadline(t *testing.T) {
	w, _ := socketPair(t)
	unix.SetsockoptInt(w, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	c := &fdConn{fd: w}
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.Write(make([]byte, 4<<20))
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, os.ErrDeadlineExceeded) || r.n == 0 || r.n == 4<<20 {
			t.Fatalf("Write past its deadline = %d, %v; want some bytes and os.ErrDeadlineExceeded", r.n, r.err)
		}
	case <-time.After(10 * time.Second):
		unix.Shutdown(w, unix.SHUT_RDWR) // let the write go
		t.Fatal("a blocked Write ignored its deadline")
	}
}

// TestReadDeadlineMoves: a read deadline set far, then near, is kept: the
// socket timeout set for the first does not outlast the second.
func TestReadDeadlineMoves(t *testing.T) {
	a, _ := socketPair(t)
	c := &fdConn{fd: a}
	c.SetReadDeadline(time.Now().Add(time.Hour))
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	c.Read(make([]byte, 1))
	begin := time.Now()
	c.SetReadDeadline(begin.Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v; want os.ErrDeadlineExceeded", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("a 50ms deadline passed after %v", took)
	}
}
