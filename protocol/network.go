package protocol

// Networks, as net.Dial and net.Listen name them. A stream network carries
// a protocol's Sessions; a datagram network carries one message per
// datagram.

// IsDatagram reports whether network is a datagram network (udp, udp4, udp6,
// unixgram).
func IsDatagram(network string) bool {
	switch network {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}

// IsUnix reports whether network is a Unix domain network (unix, unixgram,
// unixpacket).
func IsUnix(network string) bool {
	return network == "unix" || network == "unixgram" || network == "unixpacket"
}

// RunsOver reports whether p can be spoken over network: a stream protocol
// over a stream network, a datagram protocol over a datagram network.
func (p Protocol) RunsOver(network string) bool {
	if IsDatagram(network) {
		return p.Datagram
	}
	return p.Stream
}
