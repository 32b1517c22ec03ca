package loadgen

import (
	"errors"
	"testing"
)

func TestCheckListen(t *testing.T) {
	tests := []struct {
		network, addr string
		allow         bool
		wantErr       bool
	}{
		{network: "tcp", addr: "127.0.0.1:0"},
		{network: "tcp", addr: "127.0.0.2:9000"},
		{network: "tcp", addr: "[::1]:0"},
		{network: "tcp", addr: "localhost:0"},
		{network: "udp", addr: "127.0.0.1:0"},
		{network: "unix", addr: "/tmp/x.sock"},
		{network: "unixgram", addr: "/tmp/x.sock"},
		{network: "tcp", addr: ":9000", wantErr: true},
		{network: "tcp", addr: "0.0.0.0:9000", wantErr: true},
		{network: "tcp6", addr: "[::]:9000", wantErr: true},
		{network: "tcp", addr: "[::ffff:0.0.0.0]:9000", wantErr: true},
		{network: "tcp", addr: "192.0.2.1:9000", wantErr: true},
		{network: "udp", addr: ":9000", wantErr: true},
		{network: "tcp", addr: ":9000", allow: true},
		{network: "tcp", addr: "0.0.0.0:9000", allow: true},
	}
	for _, tc := range tests {
		err := CheckListen(tc.network, tc.addr, tc.allow)
		if (err != nil) != tc.wantErr {
			t.Errorf("CheckListen(%s, %s, %v) = %v, want error %v", tc.network, tc.addr, tc.allow, err, tc.wantErr)
		}
		if tc.wantErr && !errors.Is(err, ErrRemoteListen) {
			t.Errorf("CheckListen(%s, %s): %v does not wrap ErrRemoteListen", tc.network, tc.addr, err)
		}
	}
}
