package serveproc

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStartReadsListeningLines(t *testing.T) {
	var rest bytes.Buffer
	// One write, so that "after" is out before Stop's SIGTERM can land.
	cmd := exec.Command("sh", "-c", `printf 'listening on tcp 127.0.0.1:1\nlistening on unix /tmp/s\nafter\n'; exec sleep 30`)
	p, err := Start(cmd, 2, 10*time.Second, &rest)
	if err != nil {
		t.Fatal(err)
	}
	want := []Addr{{"tcp", "127.0.0.1:1"}, {"unix", "/tmp/s"}}
	if len(p.Addrs) != 2 || p.Addrs[0] != want[0] || p.Addrs[1] != want[1] {
		t.Fatalf("addrs %v, want %v", p.Addrs, want)
	}
	if err := p.Stop(10 * time.Second); err == nil || err == ErrStopTimeout {
		t.Fatalf("stop: %v, want the SIGTERM exit status", err)
	}
	if got := rest.String(); got != "after\n" {
		t.Fatalf("rest %q, want what followed the listening lines", got)
	}
}

func TestStartRefuses(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   string
	}{
		{name: "another first line", script: `echo hello; exec sleep 30`, want: `printed "hello\n"`},
		{name: "exits before its lines", script: `exit 3`, want: "read its listening lines"},
		{name: "silent", script: `exec sleep 30`, want: "no listening line within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			p, err := Start(exec.Command("sh", "-c", tt.script), 1, 500*time.Millisecond, nil)
			if err == nil {
				p.Kill()
				t.Fatal("started, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to say %q", err, tt.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the process was not killed at once")
			}
		})
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo "listening on tcp 127.0.0.1:1"; while :; do sleep 1; done`)
	p, err := Start(cmd, 1, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200 * time.Millisecond); err != ErrStopTimeout {
		t.Fatalf("stop: %v, want ErrStopTimeout", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("not reaped after the kill")
	}
}
