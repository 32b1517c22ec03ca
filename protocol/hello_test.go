package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHelloSession(t *testing.T) {
	tests := []struct {
		name      string
		maxLine   int
		chunks    []string
		eof       bool
		want      string
		wantClose bool
	}{
		{name: "greeting only", want: "Welcome!\n"},
		{name: "one name", chunks: []string{"Michael\n"}, want: "Welcome!\nHello, Michael!\n"},
		{name: "name split across reads", chunks: []string{"Mich", "ael\n"}, want: "Welcome!\nHello, Michael!\n"},
		{name: "crlf", chunks: []string{"Bob\r\n"}, want: "Welcome!\nHello, Bob!\n"},
		{name: "exit closes", chunks: []string{"exit\n"}, want: "Welcome!\n", wantClose: true},
		{name: "exit crlf closes", chunks: []string{"exit\r\n"}, want: "Welcome!\n", wantClose: true},
		{name: "exit with spaces is a name", chunks: []string{" exit\n"}, want: "Welcome!\nHello,  exit!\n"},
		{name: "pipelined up to exit", chunks: []string{"a\nb\nexit\nc\n"}, want: "Welcome!\nHello, a!\nHello, b!\n", wantClose: true},
		{name: "input after exit ignored", chunks: []string{"exit\n", "c\n"}, eof: true, want: "Welcome!\n", wantClose: true},
		{name: "eof closes", eof: true, want: "Welcome!\n", wantClose: true},
		{name: "eof mid-line answers it", chunks: []string{"a\nZed"}, eof: true, want: "Welcome!\nHello, a!\nHello, Zed!\n", wantClose: true},
		{name: "exit at eof without newline", chunks: []string{"exit"}, eof: true, want: "Welcome!\n", wantClose: true},
		{name: "empty line", chunks: []string{"\n"}, want: "Welcome!\nHello, !\n"},
		{name: "utf8 name", chunks: []string{"世界\n"}, want: "Welcome!\nHello, 世界!\n"},
		{name: "oversize line", maxLine: 4, chunks: []string{"ok\nabcdefgh\nz\n"}, want: "Welcome!\nHello, ok!\nerror: line longer than 4 bytes\n", wantClose: true},
		{name: "oversize at eof", maxLine: 4, chunks: []string{"abcde"}, eof: true, want: "Welcome!\nerror: line longer than 4 bytes\n", wantClose: true},
		{name: "default limit", chunks: []string{strings.Repeat("x", DefaultMaxLine+2)}, want: "Welcome!\nerror: line longer than 65536 bytes\n", wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{MaxLine: tt.maxLine}
			got, closed, err := drive(newSession(t, "hello", o), tt.chunks, tt.eof)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || closed != tt.wantClose {
				t.Fatalf("got %q close=%v, want %q close=%v", got, closed, tt.want, tt.wantClose)
			}
			// Byte by byte must give the same output.
			bw, bclosed, err := drive(newSession(t, "hello", o), bytewise(strings.Join(tt.chunks, "")), tt.eof)
			if err != nil {
				t.Fatal(err)
			}
			if bw != tt.want || bclosed != tt.wantClose {
				t.Fatalf("byte by byte: got %q close=%v, want %q close=%v", bw, bclosed, tt.want, tt.wantClose)
			}
		})
	}
}

func TestHelloClient(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClientOptions
		server  Session
		rounds  int
		wantErr error
		// wantFail accepts any error: a server that never greets stalls.
		wantFail bool
	}{
		{name: "default names", server: newSession(t, "hello", Options{}), rounds: 5},
		{name: "fixed name", opts: ClientOptions{Name: "Michael"}, server: newSession(t, "hello", Options{}), rounds: 3},
		{name: "echo server never greets", server: newSession(t, "echo", Options{}), rounds: 1, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("hello")
			c, err := p.NewClient(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = converse(tt.server, c, tt.rounds)
			if tt.wantFail {
				if err == nil {
					t.Fatal("no error from a server that never greets")
				}
				return
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHelloClientOptions(t *testing.T) {
	p, _ := Lookup("hello")
	for _, name := range []string{"a\nb", "exit", "x\r"} {
		if _, err := p.NewClient(ClientOptions{Name: name}); err == nil {
			t.Errorf("NewClient(Name: %q) accepted a name it cannot send", name)
		}
	}
}

func TestHelloMatcherShortAndWrong(t *testing.T) {
	c, _ := newHelloClient(ClientOptions{Name: "Al"})
	_, m := c.Next(nil, 0)
	if _, _, err := m.Match([]byte("Hello, A"), true); !errors.Is(err, ErrShortReply) {
		t.Fatalf("short reply at EOF: err = %v, want ErrShortReply", err)
	}
	_, m = c.Next(nil, 1)
	if _, _, err := m.Match([]byte("Hello, Bo!\n"), false); !errors.Is(err, ErrWrongReply) {
		t.Fatalf("wrong name: err = %v, want ErrWrongReply", err)
	}
}

func FuzzHelloSession(f *testing.F) {
	f.Add([]byte("Mich"), []byte("ael\nexit\n"), 8)
	f.Add([]byte("a\r\nb"), []byte(""), 1)
	f.Add([]byte("exit"), []byte("x\n"), 100)
	f.Fuzz(func(t *testing.T, a, b []byte, maxLine int) {
		o := Options{MaxLine: 1 + abs(maxLine)%128}
		s := newSession(t, "hello", o)
		got, closed, err := drive(s, []string{string(a), string(b)}, true)
		if err != nil || !closed {
			t.Fatalf("err %v, closed %v", err, closed)
		}
		one, _, _ := drive(newSession(t, "hello", o), []string{string(a) + string(b)}, true)
		if one != got {
			t.Fatalf("two reads %q differ from one %q", got, one)
		}
		hs := s.(*helloSession)
		if cap(hs.lines.frame.lines.pending) > 2*(o.MaxLine+1)+64 {
			t.Fatalf("splitter holds %d bytes for a limit of %d", cap(hs.lines.frame.lines.pending), o.MaxLine)
		}
		if !strings.HasPrefix(got, HelloGreeting+"\n") {
			t.Fatalf("output %q lacks the greeting", got)
		}
	})
}

// ExampleLookup drives a hello session by hand, as a driver would.
func ExampleLookup() {
	p, err := Lookup("hello")
	if err != nil {
		panic(err)
	}
	newSession, err := p.New(Options{})
	if err != nil {
		panic(err)
	}
	s := newSession()
	var out bytes.Buffer
	s.Open(t0, &out)
	s.Data([]byte("Mich"), t0, &out)
	s.Data([]byte("ael\nexit\n"), t0, &out)
	st := s.EOF(t0, &out)
	fmt.Print(out.String())
	fmt.Println("close:", st.Close)
	// Output:
	// Welcome!
	// Hello, Michael!
	// close: true
}
