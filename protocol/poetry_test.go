package protocol

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestPoetrySession(t *testing.T) {
	ms := time.Millisecond
	// event is one call made on the session at offset at from t0.
	type event struct {
		kind string // "wake", "data", "eof"
		at   time.Duration
	}
	tests := []struct {
		name   string
		opts   Options
		events []event
		// want is the output after each event, Open's first.
		want      []string
		wantWake  time.Duration // WakeAt of the last step, from t0; 0 for none
		wantClose bool
	}{
		{
			name:     "open sends the first line",
			want:     []string{"1111\n"},
			wantWake: 500 * ms,
		},
		{
			name:     "early wake sends nothing",
			events:   []event{{kind: "wake", at: 499 * ms}},
			want:     []string{"1111\n", ""},
			wantWake: 500 * ms,
		},
		{
			name:      "whole poem on time",
			events:    []event{{"wake", 500 * ms}, {"wake", 1000 * ms}, {"wake", 1500 * ms}},
			want:      []string{"1111\n", "2222\n", "3333\n", "4444\n"},
			wantClose: true,
		},
		{
			name:     "late wake delays the rest",
			events:   []event{{"wake", 700 * ms}, {"wake", 1100 * ms}},
			want:     []string{"1111\n", "2222\n", ""},
			wantWake: 1200 * ms,
		},
		{
			name:     "input and eof ignored",
			events:   []event{{"data", 10 * ms}, {"eof", 20 * ms}, {"wake", 500 * ms}},
			want:     []string{"1111\n", "", "", "2222\n"},
			wantWake: 1000 * ms,
		},
		{
			name:      "custom poem and delay",
			opts:      Options{Poem: []string{"roses", "violets"}, LineDelay: 10 * ms},
			events:    []event{{"wake", 10 * ms}},
			want:      []string{"roses\n", "violets\n"},
			wantClose: true,
		},
		{
			name:      "one line closes at once",
			opts:      Options{Poem: []string{"only"}},
			want:      []string{"only\n"},
			wantClose: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, "poetry", tt.opts)
			var out bytes.Buffer
			st := s.Open(t0, &out)
			got := []string{out.String()}
			for _, e := range tt.events {
				out.Reset()
				now := t0.Add(e.at)
				switch e.kind {
				case "wake":
					st = s.Wake(now, &out)
				case "data":
					st = s.Data([]byte("hi\n"), now, &out)
				case "eof":
					st = s.EOF(now, &out)
				}
				got = append(got, out.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("outputs %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("outputs %q, want %q", got, tt.want)
				}
			}
			var wantWake time.Time
			if tt.wantWake != 0 {
				wantWake = t0.Add(tt.wantWake)
			}
			if !st.WakeAt.Equal(wantWake) || st.Close != tt.wantClose {
				t.Fatalf("last step %+v, want WakeAt %v Close %v", st, wantWake, tt.wantClose)
			}
		})
	}
}

func TestPoetryOptions(t *testing.T) {
	p, _ := Lookup("poetry")
	for _, o := range []Options{{LineDelay: -time.Second}, {Poem: []string{"a\nb"}}} {
		if _, err := p.New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}

func TestPoetryClient(t *testing.T) {
	tests := []struct {
		name    string
		client  Options
		server  Options
		wantErr error
	}{
		{name: "default"},
		{name: "custom", client: Options{Poem: []string{"a", "b"}}, server: Options{Poem: []string{"a", "b"}}},
		{name: "wrong poem", client: Options{Poem: []string{"a", "c"}}, server: Options{Poem: []string{"a", "b"}}, wantErr: ErrWrongReply},
		{name: "cut short", client: Options{Poem: []string{"a", "b", "c"}}, server: Options{Poem: []string{"a", "b"}}, wantErr: ErrShortReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Lookup("poetry")
			c, err := p.NewClient(ClientOptions{Options: tt.client})
			if err != nil {
				t.Fatal(err)
			}
			err = converse(newSession(t, "poetry", tt.server), c, 1)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
