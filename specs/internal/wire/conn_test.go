package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestCappedReader(t *testing.T) {
	for _, tc := range []struct {
		n       int
		tooMuch bool
	}{{0, false}, {99, false}, {100, false}, {101, true}, {10000, true}} {
		r := &CappedReader{R: bytes.NewReader(make([]byte, tc.n)), Limit: 100, While: "in a test"}
		got, err := io.ReadAll(r)
		if errors.Is(err, ErrTooMuch) != tc.tooMuch || (err != nil && !tc.tooMuch) {
			t.Errorf("%d bytes: err %v, want too much: %v", tc.n, err, tc.tooMuch)
		}
		if want := min(tc.n, 100); len(got) != want {
			t.Errorf("%d bytes: read %d, want %d", tc.n, len(got), want)
		}
		if tc.tooMuch && err.Error() != "the server sent more than 100 bytes in a test" {
			t.Errorf("%d bytes: message %q", tc.n, err)
		}
	}
}

// firstSeen is a matcher done at the first bytes, which it counts.
type firstSeen struct{ n int }

func (m *firstSeen) Match(p []byte, _ bool) (int, bool, error) {
	m.n = len(p)
	return len(p), len(p) > 0, nil
}

func TestReadSizeBoundsOneRead(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	go func() { _, _ = server.Write(make([]byte, 100<<10)) }()
	c := &Conn{c: client, Timeout: time.Second, ReadSize: 4 << 10}
	defer c.Close()
	m := new(firstSeen)
	if err := c.Expect(m); err != nil {
		t.Fatal(err)
	}
	if m.n == 0 || m.n > 4<<10 {
		t.Errorf("one read took %d bytes, want 1 to %d", m.n, 4<<10)
	}
}
