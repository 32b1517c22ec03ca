package catalog

import (
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func TestOffsets(t *testing.T) {
	cases := []struct {
		n, limit int
		want     []int
	}{
		{0, 4, []int{}},
		{3, 4, []int{0, 1, 2}},
		{4, 4, []int{0, 1, 2, 3}},
		{10, 4, []int{0, 3, 6, 9}},
	}
	for _, tc := range cases {
		if got := offsets(tc.n, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("offsets(%d, %d) = %v, want %v", tc.n, tc.limit, got, tc.want)
		}
	}
}

func TestRSSOfThisProcess(t *testing.T) {
	n, err := rss(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if n < 1<<20 || n > 64<<30 {
		t.Errorf("rss = %d bytes, want a plausible resident size", n)
	}
	if _, err := rss(1 << 30); err == nil {
		t.Error("rss of a process that does not exist: no error")
	}
}

// TestCutAtStopsAfterK checks cut-mid-stream's matcher: done once k bytes
// have arrived, whatever the reply's own matcher says.
func TestCutAtStopsAfterK(t *testing.T) {
	m := &cutAt{m: exactBytes([]byte("hello")), k: 3}
	if n, done, err := m.Match([]byte("he"), false); n != 2 || done || err != nil {
		t.Errorf("2 of 3 bytes: %d %v %v, want 2 consumed, not done", n, done, err)
	}
	if _, done, err := m.Match([]byte("l"), false); !done || err != nil {
		t.Errorf("the third byte: done %v %v, want done", done, err)
	}
	zero := &cutAt{m: exactBytes([]byte("x")), k: 0}
	if _, done, _ := zero.Match(nil, false); !done {
		t.Error("k = 0: want done before any byte")
	}
}

// TestSynRetransmitsOfAPromptConnect: a connect to a listener with room in
// its backlog needs no retransmission.
func TestSynRetransmitsOfAPromptConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := synRetransmits(c, 0); n != 0 {
		t.Errorf("synRetransmits = %d, want 0", n)
	}
}

// TestIPv6OverAnotherFamily runs the ipv6 behaviour against a server that
// listens on 127.0.0.1 and on ::1 at the same port: given the IPv4 address
// it judges the server over ::1 too; given nothing there, it skips.
func TestIPv6OverAnotherFamily(t *testing.T) {
	m, err := registry.Lookup("goroutine")
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		srv, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		addr := srv.Addrs()[0].String()
		_, port, _ := net.SplitHostPort(addr)
		srv6, err := m.Start(targets.Config{Network: targets.TCP, Protocol: "echo", Listen: []string{net.JoinHostPort("::1", port)}})
		if err != nil {
			srv.Close()
			if attempt < 5 {
				continue // another program holds ::1 at that port
			}
			t.Skipf("no IPv6 loopback: %v", err)
		}
		tg := &Target{Name: "t", Network: "tcp", Addr: addr, Protocol: "echo", External: true,
			Timeout: time.Second, Options: protocol.Options{Framing: protocol.Line}}
		results := Check(tg, func(b Behaviour) bool { return b.ID == "roundtrip" || b.ID == "ipv6" }, nil)
		if r := results[1]; r.State != Passed {
			t.Errorf("ipv6 against a server on both families: %s %q, want passed", r.State, r.Message)
		}
		srv6.Close()
		tg2 := &Target{Name: "t", Network: "tcp", Addr: addr, Protocol: "echo", External: true,
			Timeout: time.Second, Options: protocol.Options{Framing: protocol.Line}}
		results = Check(tg2, func(b Behaviour) bool { return b.ID == "ipv6" }, nil)
		if r := results[0]; r.State != Skipped {
			t.Errorf("ipv6 against a server on 127.0.0.1 alone: %s %q, want skipped", r.State, r.Message)
		}
		tg.Close()
		tg2.Close()
		srv.Close()
		return
	}
}
