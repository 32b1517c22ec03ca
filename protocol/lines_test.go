package protocol

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// splitAll feeds chunks to a splitter, then EOF, and collects the lines. It
// stops at the first error.
func splitAll(max int, chunks []string) (lines []string, err error) {
	s := newLineSplitter(max)
	for _, c := range chunks {
		in := []byte(c)
		for len(in) > 0 {
			line, rest, ok, err := s.next(in)
			if err != nil {
				return lines, err
			}
			if s.buffered() > s.max+1 {
				return lines, errors.New("splitter buffered past its bound")
			}
			if ok {
				lines = append(lines, string(line))
			}
			in = rest
		}
	}
	line, ok, err := s.flush()
	if err != nil {
		return lines, err
	}
	if ok {
		lines = append(lines, string(line))
	}
	return lines, nil
}

// bytewise cuts s into one-byte chunks.
func bytewise(s string) []string {
	out := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = s[i : i+1]
	}
	return out
}

func TestLineSplitter(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		input   string
		want    []string
		wantErr bool
	}{
		{name: "empty", input: "", want: nil},
		{name: "one line", input: "abc\n", want: []string{"abc"}},
		{name: "crlf", input: "abc\r\ndef\n", want: []string{"abc", "def"}},
		{name: "lone cr kept", input: "a\rb\n", want: []string{"a\rb"}},
		{name: "empty lines", input: "\n\r\n\n", want: []string{"", "", ""}},
		{name: "unfinished last line", input: "a\nbc", want: []string{"a", "bc"}},
		{name: "unfinished last line with cr", input: "bc\r", want: []string{"bc"}},
		{name: "exactly max", max: 4, input: "abcd\n", want: []string{"abcd"}},
		{name: "exactly max crlf", max: 4, input: "abcd\r\n", want: []string{"abcd"}},
		{name: "max plus one", max: 4, input: "abcde\n", wantErr: true},
		{name: "max plus one at eof", max: 4, input: "abcde", wantErr: true},
		{name: "long without newline", max: 4, input: "abcdefghij", wantErr: true},
		{name: "good then long", max: 4, input: "ab\nabcdefgh\n", want: []string{"ab"}, wantErr: true},
		{name: "utf8", input: "欢迎\n", want: []string{"欢迎"}},
		{name: "default max accepts 64KiB", input: strings.Repeat("x", DefaultMaxLine) + "\n", want: []string{strings.Repeat("x", DefaultMaxLine)}},
		{name: "default max refuses 64KiB+1", input: strings.Repeat("x", DefaultMaxLine+1) + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, err := splitAll(tt.max, []string{tt.input})
			if (err != nil) != tt.wantErr {
				t.Fatalf("one piece: err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(whole, tt.want) {
				t.Fatalf("one piece: lines = %q, want %q", whole, tt.want)
			}
			if len(tt.input) > 1024 {
				return // byte by byte on 64 KiB is slow under -race and adds nothing
			}
			split, err := splitAll(tt.max, bytewise(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("byte by byte: err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(split, tt.want) {
				t.Fatalf("byte by byte: lines = %q, want %q", split, tt.want)
			}
		})
	}
}

func FuzzLineSplitter(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 4, 3)
	f.Add([]byte("abcdefgh\n"), 4, 1)
	f.Add([]byte("\r\r\n\n"), 1, 2)
	f.Fuzz(func(t *testing.T, data []byte, max, cut int) {
		max = 1 + abs(max)%64
		cut = 1 + abs(cut)%16
		var chunks []string
		for s := string(data); len(s) > 0; {
			n := min(cut, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		whole, werr := splitAll(max, []string{string(data)})
		split, serr := splitAll(max, chunks)
		if werr != nil && werr != errLineTooLong || serr != nil && serr != errLineTooLong {
			t.Fatalf("unexpected error: %v / %v", werr, serr)
		}
		if (werr == nil) != (serr == nil) || !slices.Equal(whole, split) {
			t.Fatalf("one piece %q (%v) differs from chunks of %d %q (%v)", whole, werr, cut, split, serr)
		}
		for _, l := range whole {
			if len(l) > max || strings.Contains(l, "\n") {
				t.Fatalf("line %q breaks the limit %d or holds a newline", l, max)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // math.MinInt
			return 0
		}
		return -n
	}
	return n
}
