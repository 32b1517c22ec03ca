package loadgen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// portsChildEnv marks the test binary re-run inside a network namespace by
// TestPortsExhausted.
const portsChildEnv = "SOCKLAB_PORTS_EXHAUSTED_CHILD"

// TestPortsExhausted runs short connections in a network namespace of its
// own whose ephemeral port range is 8 ports and where TIME_WAIT ports are
// not reused: with the client closing first, every connection leaves its
// port in TIME_WAIT for 60s, so after 8 connections connect fails with
// EADDRNOTAVAIL, which must be counted as ports_exhausted, in both engines.
// With the server closing first (hello's exit), TIME_WAIT lands on the
// server and the same 8 ports carry every connection: the advice holds.
func TestPortsExhausted(t *testing.T) {
	if os.Getenv(portsChildEnv) == "1" {
		portsChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("a network namespace with its own port range needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command: network namespaces are made with iproute2's ip")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := fmt.Sprintf("socklab%d-ports", os.Getpid())
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("remove namespace %s: %v: %s", ns, err, out)
		}
	}()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestPortsExhausted$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), portsChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in namespace %s: %v\n%s", ns, err, out)
	}
	t.Logf("in namespace %s:\n%s", ns, out)
}

// portsChild is TestPortsExhausted inside its namespace.
func portsChild(t *testing.T) {
	for _, c := range [][]string{{"ip", "link", "set", "lo", "up"}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
	// The servers listen before the range is narrowed: their ports come
	// from the default range and do not take any of the clients' 8.
	type server struct{ addr, protocol, close, engine string }
	var servers []server
	for _, e := range []string{EngineEpoll, EngineGoroutine} {
		servers = append(servers, server{startEcho(t, "tcp"), "echo", CloseClient, e}, server{startHello(t), "hello", CloseServer, e})
	}
	for k, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_local_port_range": "40000 40007",
		"/proc/sys/net/ipv4/tcp_tw_reuse":        "0",
	} {
		if err := os.WriteFile(k, []byte(v), 0o644); err != nil {
			t.Fatalf("in the namespace: %v", err)
		}
	}
	const ports = 8
	for _, s := range servers {
		// A connection's port is its own for one destination: each run
		// has a server of its own, so it starts with all 8 free.
		res := run(t, Config{Addr: s.addr, Protocol: s.protocol, Engine: s.engine, Rate: Constant(200), Reconnect: true, Close: s.close,
			Connections: 4, Duration: 500 * time.Millisecond, Timeout: time.Second})
		n := res.ErrorCount(PortsExhausted)
		t.Logf("%s, %s closes: %d connects, %d requests, errors %v %v", s.engine, s.close, res.Connects, res.Requests, res.Errors, res.FirstErrors)
		switch s.close {
		case CloseClient:
			if n == 0 || res.Connects > ports || res.TotalErrors() != n {
				t.Errorf("%s, client closes: %d connects, %d ports_exhausted of %d errors; want at most %d connects, then only ports_exhausted", s.engine, res.Connects, n, res.TotalErrors(), ports)
			}
		case CloseServer:
			if res.TotalErrors() != 0 || res.Connects < 4*ports {
				t.Errorf("%s, server closes: %d connects, errors %v; want many more than %d and none", s.engine, res.Connects, res.Errors, ports)
			}
		}
	}
}
