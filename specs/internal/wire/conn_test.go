package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
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
