package reactor

import (
	"golang.org/x/sys/unix"
)

// Datagram echo limits. A datagram socket's reply can find the send buffer
// full (EAGAIN, or ENOBUFS on some kernels): the reply is queued, in order,
// and sent when the socket is writable; reading stops while the queue is
// full. A reply that fails otherwise (the peer's port unreachable) is dropped
// and counted in Server.Dropped: UDP promises no delivery, and one peer must
// not stop the server.
const (
	maxDatagram   = 65536
	dgramQueueLen = 256
)

type reply struct {
	b  []byte
	to unix.Sockaddr
}

// dgram serves the datagram echo (UDP, unixgram) on one socket: recvfrom
// with a 64 KiB buffer (the tutorials' recvfrom(1024) truncates), sendto
// back. A zero-length datagram is echoed as a zero-length datagram; it is
// not a close.
type dgram struct {
	ls       *loopServer
	sock     *Socket
	queue    []reply
	interest Events
}

// Ready implements Handler.
func (d *dgram) Ready(ev Events) {
	if ev&Writable != 0 {
		d.flush()
	}
	if ev&Readable != 0 {
		buf := d.ls.loop.buf[:maxDatagram]
		for range 64 {
			if len(d.queue) >= dgramQueueLen {
				break
			}
			n, from, err := unix.Recvfrom(d.sock.Fd, buf, 0)
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				// EINTR, or an ICMP error reported for an earlier send
				// (ECONNREFUSED): neither stops the server.
				continue
			}
			if from == nil || isUnnamed(from) {
				// An unbound unixgram client has no address to reply to.
				d.ls.srv.dropped.Add(1)
				continue
			}
			d.send(buf[:n], from)
		}
	}
	want := Readable
	if len(d.queue) >= dgramQueueLen {
		want = 0
	}
	if len(d.queue) > 0 {
		want |= Writable
	}
	if want != d.interest {
		d.ls.loop.Rewatch(d.sock.Fd, want)
		d.interest = want
	}
}

func isUnnamed(sa unix.Sockaddr) bool {
	u, ok := sa.(*unix.SockaddrUnix)
	return ok && u.Name == ""
}

func (d *dgram) send(b []byte, to unix.Sockaddr) {
	if len(d.queue) == 0 {
		err := unix.Sendto(d.sock.Fd, b, 0, to)
		if err == nil {
			return
		}
		if err != unix.EAGAIN && err != unix.ENOBUFS {
			d.ls.srv.dropped.Add(1)
			return
		}
	}
	d.queue = append(d.queue, reply{b: append([]byte(nil), b...), to: to})
}

func (d *dgram) flush() {
	for len(d.queue) > 0 {
		r := d.queue[0]
		err := unix.Sendto(d.sock.Fd, r.b, 0, r.to)
		if err == unix.EAGAIN || err == unix.ENOBUFS {
			return
		}
		if err != nil {
			d.ls.srv.dropped.Add(1)
		}
		d.queue[0] = reply{}
		d.queue = d.queue[1:]
	}
}
