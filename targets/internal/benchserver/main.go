// Command benchserver starts one reference target by model name and serves
// until SIGTERM or SIGINT: the server process of the model benchmarks
// (targets/bench_test.go), standing in for `socklab serve` with the same
// first stdout line, "listening on NETWORK ADDRESS".
//
//	benchserver -model epoll -protocol echo
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func main() {
	model := flag.String("model", "epoll", "model name (see socklab models)")
	proto := flag.String("protocol", "echo", "protocol name")
	network := flag.String("network", "tcp", "network: tcp, unix, udp or unixgram")
	workers := flag.Int("workers", 0, "pool workers or reuseport reactors (0: the model's default)")
	flag.Parse()
	m, err := registry.Lookup(*model)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(2)
	}
	srv, err := m.Start(targets.Config{Network: *network, Protocol: *proto, Workers: *workers})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	a := srv.Addrs()[0]
	fmt.Printf("listening on %s %s\n", a.Network(), a)
	<-sig
	srv.Close()
}
