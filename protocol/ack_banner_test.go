package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestAckSession(t *testing.T) {
	const ack = AckReply + "\n"
	tests := []struct {
		name      string
		maxLine   int
		chunks    []string
		eof       bool
		want      string
		wantClose bool
	}{
		{name: "nothing", want: ""},
		{name: "one line", chunks: []string{"hi\n"}, want: ack},
		{name: "split line", chunks: []string{"h", "i\r", "\n"}, want: ack},
		{name: "pipelined", chunks: []string{"a\nb\n\nc\n"}, want: strings.Repeat(ack, 4)},
		{name: "exit is a message", chunks: []string{"exit\n"}, want: ack},
		{name: "eof closes", chunks: []string{"a\n"}, eof: true, want: ack, wantClose: true},
		{name: "eof mid-line", chunks: []string{"a\nb"}, eof: true, want: ack + ack, wantClose: true},
		{name: "oversize", maxLine: 3, chunks: []string{"abc\nabcd\nx\n"}, want: ack + "error: line longer than 3 bytes\n", wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{MaxLine: tt.maxLine}
			for _, chunks := range [][]string{tt.chunks, bytewise(strings.Join(tt.chunks, ""))} {
				got, closed, err := drive(newSession(t, "ack", o), chunks, tt.eof)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want || closed != tt.wantClose {
					t.Fatalf("chunks %q: got %q close=%v, want %q close=%v", chunks, got, closed, tt.want, tt.wantClose)
				}
			}
		})
	}
}

func TestBannerSession(t *testing.T) {
	tests := []struct {
		name   string
		banner string
		chunks []string
		want   string
	}{
		{name: "default", want: "欢迎访问服务器!\n"},
		{name: "custom", banner: "hi there", want: "hi there\n"},
		{name: "input ignored", chunks: []string{"hello\n"}, want: "欢迎访问服务器!\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, closed, err := drive(newSession(t, "banner", Options{Banner: tt.banner}), tt.chunks, true)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !closed {
				t.Fatalf("got %q close=%v, want %q and a close", got, closed, tt.want)
			}
		})
	}
}

func TestStreamClients(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		server   string
		opts     ClientOptions
		srvOpts  Options
		rounds   int
		wantErr  error
		wantFail bool
	}{
		{name: "ack", protocol: "ack", server: "ack", rounds: 10},
		{name: "ack against hello", protocol: "ack", server: "hello", rounds: 1, wantErr: ErrWrongReply},
		{name: "banner", protocol: "banner", server: "banner", rounds: 1},
		{name: "custom banner", protocol: "banner", server: "banner", opts: ClientOptions{Options: Options{Banner: "x"}}, srvOpts: Options{Banner: "x"}, rounds: 1},
		{name: "banner mismatch", protocol: "banner", server: "banner", opts: ClientOptions{Options: Options{Banner: "x"}}, rounds: 1, wantErr: ErrWrongReply},
		{name: "banner client on a longer banner", protocol: "banner", server: "banner", opts: ClientOptions{Options: Options{Banner: "ab"}}, srvOpts: Options{Banner: "ab\ncd"}, rounds: 1, wantErr: ErrWrongReply},
		{name: "banner client on a shorter banner", protocol: "banner", server: "banner", opts: ClientOptions{Options: Options{Banner: "ab\ncd"}}, srvOpts: Options{Banner: "ab"}, rounds: 1, wantErr: ErrShortReply},
		{name: "banner client on an open server", protocol: "banner", server: "ack", rounds: 1, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup(tt.protocol)
			c, err := p.NewClient(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = converse(newSession(t, tt.server, tt.srvOpts), c, tt.rounds)
			switch {
			case tt.wantFail:
				if err == nil {
					t.Fatal("no error")
				}
			case tt.wantErr == nil && err != nil, tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEOFMatcherShort(t *testing.T) {
	c, _ := newBannerClient(ClientOptions{})
	_, m := c.Next(nil, 0)
	n, done, err := m.Match([]byte("欢迎"), false)
	if n != len("欢迎") || done || err != nil {
		t.Fatalf("partial: n=%d done=%v err=%v", n, done, err)
	}
	if _, _, err := m.Match(nil, true); !errors.Is(err, ErrShortReply) {
		t.Fatalf("EOF mid-banner: err = %v, want ErrShortReply", err)
	}
	_, m = c.Next(nil, 1)
	if _, done, err := m.Match([]byte(BannerReply("", Line)), false); done || err != nil {
		t.Fatalf("banner without EOF: done=%v err=%v, want neither", done, err)
	}
	if _, done, err := m.Match(nil, true); !done || err != nil {
		t.Fatalf("then EOF: done=%v err=%v, want done", done, err)
	}
}
