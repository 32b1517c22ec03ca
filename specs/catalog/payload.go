package catalog

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/specs/internal/wire"
)

// Payload sizes. The partial-send reply must overflow the client's small
// receive buffer and the server's send buffer many times over.
const (
	partialSendSize = 8 << 20
	smallRcvBuf     = 4 << 10
	slowStart       = 200 * time.Millisecond
)

var largePayloadSizes = []int{1, 255, 256, 4097, 65536, 1 << 20, 16 << 20}

// payloadSpecs: large answers and binary payloads.
func init() {
	behave("partial-send", func(s *spec) {
		if s.Protocol == "file" {
			filePartialSend(s)
			return
		}
		conn, err := wire.DialSmallBuffer(s.Network, s.Addr, smallRcvBuf, s.Timeout)
		s.check(err, "a connection to "+s.Addr, "the server is not listening")
		defer conn.Close()
		payload := protocol.AppendPattern(nil, partialSendSize, 7)
		sum := sha256.Sum256(payload)
		done := conn.WriteAsync(payload)
		// Read nothing for a while: the server's sends become partial
		// (or would block) once both socket buffers are full.
		time.Sleep(slowStart)
		m := exactBytes(payload)
		err = conn.ExpectWithin(m, 4*s.Timeout)
		if err != nil {
			s.failf(fmt.Sprintf("all %d bytes back in order (SHA-256 %x…)", len(payload), sum[:6]), err.Error(),
				"the server ignores send()'s return value: a send on a full socket writes only part of the buffer, and the rest must be sent later (sendall)")
		}
		s.check(<-done, "the payload to be sent", "the server stopped reading")
	})

	behave("large-payload", func(s *spec) {
		for _, size := range largePayloadSizes {
			c := connectNoGreeting(s)
			payload := protocol.AppendPattern(nil, size, uint64(size))
			done := c.WriteAsync(payload)
			if err := c.ExpectWithin(exactBytes(payload), 4*s.Timeout); err != nil {
				s.failf(fmt.Sprintf("a %d-byte payload of all 256 byte values back intact", size), err.Error(),
					"the server decodes bytes as text, stops at a NUL byte, truncates at a fixed buffer size, or drops partial sends")
			}
			s.check(<-done, "the payload to be sent", "the server stopped reading")
			c.Close()
		}
	})
}

// exactBytes is a matcher of exactly want, with the offset of a mismatch.
func exactBytes(want []byte) protocol.Matcher { return &exactMatcher{want: want} }
