package broken

import (
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
)

// gbkBanner is the default banner encoded in GBK, as the tutorial's Python 2
// source file would send it: not UTF-8.
var gbkBanner = []byte{0xbb, 0xb6, 0xd3, 0xad, 0xb7, 0xc3, 0xce, 0xca, 0xb7, 0xfe, 0xce, 0xf1, 0xc6, 0xf7, '!'}

var servers = []Server{
	{
		Name: "send-ignored", Protocol: "echo", Network: targets.TCP,
		Defect: "ignores send()'s return value: each send writes only what fits in the socket buffer (16 KiB) and the rest is dropped",
		Fails:  []string{"partial-send", "large-payload", "pipelined-input"},
		Start:  start(streamSpec{protocol: "echo", conn: func(c targets.Conn) targets.Conn { return firstChunkConn{c} }}),
	},
	{
		Name: "recv-is-message", Protocol: "hello", Network: targets.TCP,
		Defect: "treats one recv() as one message: an unfinished line is answered as if whole, and no line buffer means no line limit",
		Fails:  []string{"fragmented-input", "pipelined-input", "oversized-line", "slow-client"},
		Start: start(streamSpec{protocol: "hello", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return recvIsMessage{session{s}}
		}}),
	},
	{
		Name: "no-eof-close", Protocol: "echo", Network: targets.TCP,
		Defect: "never closes on an empty recv(): the loop keeps reading a half-closed connection",
		Fails:  []string{"close-on-eof"},
		Start: start(streamSpec{protocol: "echo", conn: func(c targets.Conn) targets.Conn {
			return &noEOFConn{Conn: c, closed: make(chan struct{})}
		}}),
	},
	{
		Name: "no-exit", Protocol: "hello", Network: targets.TCP,
		Defect: "does not implement exit: it greets a client called exit and keeps the connection",
		// fragmented-input's check of exit split as ex + it depends on
		// exit-command and is not run: one defect, one failing behaviour.
		Fails: []string{"exit-command"},
		Start: start(streamSpec{protocol: "hello", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return renameExit{session{s}, new(exitState)}
		}}),
	},
	{
		Name: "rst-on-exit", Protocol: "hello", Network: targets.TCP,
		Defect: "closes with SO_LINGER 0 on exit, so the client gets RST instead of FIN",
		Fails:  []string{"exit-command"},
		Start: start(streamSpec{
			protocol: "hello",
			conn:     func(c targets.Conn) targets.Conn { return &rstConn{Conn: c} },
			session: func(s protocol.Session, c targets.Conn) protocol.Session {
				return exitRST{session{s}, c.(*rstConn)}
			},
		}),
	},
	{
		Name: "serial-claims-many", Protocol: "echo", Network: targets.TCP,
		Defect: "serves one client at a time (accept, serve to the end, accept) while declaring no capacity limit",
		Fails:  []string{"concurrent-clients", "slow-client"},
		Start:  start(streamSpec{protocol: "echo", serial: true}),
	},
	{
		Name: "hidden-pool", Protocol: "ack", Network: targets.TCP,
		Defect: "serves five clients at once (a ThreadPoolExecutor(5) whose workers each hold a connection for its life) while declaring no capacity limit",
		Fails:  []string{"concurrent-clients"},
		Start:  start(streamSpec{protocol: "ack", workers: 5}),
	},
	{
		Name: "serial-poetry", Protocol: "poetry", Network: targets.TCP,
		Defect: "sends poems one client at a time (time.sleep between lines in a single-threaded loop) while declaring no capacity limit",
		Fails:  []string{"stream-concurrent"},
		// A churn cycle waits for the previous client's poem to end,
		// which takes two lines after its client left (the first send
		// provokes the RST, the second fails): the delay keeps that far
		// inside churn's 50 ms a cycle even on a loaded machine.
		Start: start(streamSpec{protocol: "poetry", serial: true, opts: protocol.Options{LineDelay: 5e6}}),
	},
	{
		Name: "blocking-readline", Protocol: "hello", Network: targets.TCP,
		Defect: "once a client's line has started, blocks every client until it ends (a blocking readline inside a select loop)",
		Fails:  []string{"slow-client"},
		Start: func(root string) (targets.Server, error) {
			l := new(readlineLock)
			return startStream(streamSpec{protocol: "hello", conn: func(c targets.Conn) targets.Conn {
				return &readlineConn{Conn: c, l: l}
			}})
		},
	},
	{
		Name: "reset-kills-server", Protocol: "echo", Network: targets.TCP,
		Defect: "lets ECONNRESET/EPIPE from recv() or send() escape the handler, which ends the accept loop (so every later client is refused)",
		// The accept loop dies in abandoned-reply, the first behaviour that
		// resets; the behaviours after it are not run, not failed.
		Fails: []string{"abandoned-reply"},
		Start: start(streamSpec{
			protocol: "echo",
			crash:    func(err error, _ protocol.Session) bool { return isReset(err) },
		}),
	},
	{
		Name: "reset-before-answer-kills", Protocol: "hello", Network: targets.TCP,
		Defect: "lets ECONNRESET escape the handler when a client resets before its first line was answered, which ends the accept loop",
		Fails:  []string{"reset-survival"},
		Start: start(streamSpec{
			protocol: "hello",
			session: func(s protocol.Session, _ targets.Conn) protocol.Session {
				return &answerWatch{session: session{s}}
			},
			crash: func(err error, sess protocol.Session) bool {
				return isReset(err) && !sess.(*answerWatch).answered
			},
		}),
	},
	{
		Name: "no-line-limit", Protocol: "hello", Network: targets.TCP,
		Defect: "appends every recv() to a buffer until a newline, with no limit",
		Fails:  []string{"oversized-line"},
		Start: start(streamSpec{protocol: "hello", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return unboundedLines{session{s}, new([]byte)}
		}}),
	},
	{
		Name: "fd-leak", Protocol: "echo", Network: targets.TCP,
		Defect: "shuts a finished connection down but never closes its descriptor; after 500 (a ulimit) accept fails",
		// The behaviours before connection-churn open some 350
		// connections (cut-mid-stream 128 of them); the pressure
		// behaviours after it are not run once churn has stopped it.
		Fails: []string{"connection-churn"},
		Start: func(string) (targets.Server, error) {
			lk := &leaks{max: 500}
			s, err := startStream(streamSpec{
				protocol: "echo",
				conn:     func(c targets.Conn) targets.Conn { return &leakConn{Conn: c, leaks: lk} },
				accept:   lk.room,
			})
			if s != nil {
				s.extra = lk.release
			}
			return s, err
		},
	},
	{
		Name: "stale-reply", Protocol: "hello", Network: targets.TCP,
		Defect: "answers the third and later lines of a connection with the second line's reply (a reply cached per connection, never refreshed)",
		Fails:  []string{"roundtrip", "pipelined-input"},
		Start: start(streamSpec{protocol: "hello", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return staleReply{session{s}, new(int), new([]byte)}
		}}),
	},
	{
		Name: "gbk-banner", Protocol: "banner", Network: targets.TCP,
		Defect: "sends its banner encoded in GBK, not UTF-8",
		Fails:  []string{"greeting"},
		Start: start(streamSpec{protocol: "banner", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return rewrite{session{s}, []byte(protocol.DefaultBanner), gbkBanner}
		}}),
	},
	{
		Name: "poem-last-line-lost", Protocol: "poetry", Network: targets.TCP,
		Defect: "drops the poem's last line (the send in the loop's final iteration is skipped when it decides to close)",
		Fails:  []string{"stream-complete", "stream-concurrent"},
		Start: start(streamSpec{protocol: "poetry", opts: protocol.Options{LineDelay: 10e6}, session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return dropLast{session{s}}
		}}),
	},
	{
		Name: "http-wrong-body", Protocol: "http", Network: targets.TCP,
		Defect: "answers GET / with the body Hello, World! instead of Hello, world!",
		Fails:  []string{"http-get", "http-keepalive"},
		Start: start(streamSpec{protocol: "http", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return rewrite{session{s}, []byte("Hello, world!"), []byte("Hello, World!")}
		}}),
	},
	{
		Name: "http-garbage-200", Protocol: "http", Network: targets.TCP,
		Defect: "answers a malformed request with 200 OK instead of 400",
		Fails:  []string{"http-malformed"},
		Start: start(streamSpec{protocol: "http", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return rewrite{session{s}, []byte("HTTP/1.1 400 Bad Request"), []byte("HTTP/1.1 200 OK")}
		}}),
	},
	{
		Name: "file-silent-refusal", Protocol: "file", Network: targets.TCP,
		Defect: "sends nothing when a get names a missing file (the tutorial only prints 不予下载 on the server's console)",
		Fails:  []string{"file-get-missing"},
		Start: start(streamSpec{protocol: "file", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return silentRefusal{session{s}}
		}}),
	},
	{
		Name: "file-in-place", Protocol: "file", Network: targets.TCP,
		Defect: "writes uploads in place (open(name, 'wb'), a write per recv), so a cut upload leaves a partial file under its name",
		Fails:  []string{"interrupted-put"},
		Start: func(root string) (targets.Server, error) {
			return startStream(streamSpec{protocol: "file", opts: protocol.Options{Root: root}, session: func(s protocol.Session, _ targets.Conn) protocol.Session {
				return inPlacePut{session{s}, root, new(putState)}
			}})
		},
	},
	{
		Name: "file-last-chunk", Protocol: "file", Network: targets.TCP,
		Defect: "its upload loop stops one 4096-byte chunk early when the size is an exact multiple of the chunk (an off-by-one on the last chunk)",
		Fails:  []string{"file-put"},
		Start: start(streamSpec{protocol: "file", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return chunkShort{session{s}, new(shortState)}
		}}),
	},
	{
		Name: "file-get-not-confined", Protocol: "file", Network: targets.TCP,
		Defect: "joins a get's name to the root without confinement (os.path.join), so ../ and absolute names are served",
		Fails:  []string{"path-traversal"},
		Start: func(root string) (targets.Server, error) {
			return startStream(streamSpec{protocol: "file", opts: protocol.Options{Root: root}, session: func(s protocol.Session, _ targets.Conn) protocol.Session {
				return unconfinedGet{session{s}, root, new([]byte)}
			}})
		},
	},
	{
		Name: "file-get-short", Protocol: "file", Network: targets.TCP,
		Defect: "sends a download one byte short when its last chunk is partial (an off-by-one in the chunk loop)",
		Fails:  []string{"file-get", "file-put"},
		Start: start(streamSpec{protocol: "file", session: func(s protocol.Session, _ targets.Conn) protocol.Session {
			return shortLastChunk{session{s}, new(shortGet)}
		}}),
	},
	{
		Name: "ipv6-peer-dropped", Protocol: "echo", Network: targets.TCP,
		Defect: "formats each client's address as host:port ('%s:%s' % addr), which raises on an IPv6 peer's 4-tuple: every client of the ::1 listener it also opens is dropped unanswered",
		Fails:  []string{"ipv6"},
		Start:  start(streamSpec{protocol: "echo", ipv6: true}),
	},
	{
		Name: "eof-mid-line-kills", Protocol: "hello", Network: targets.TCP,
		Defect: "parses what is left in its buffer when recv() returns empty (int() of an unfinished line raises), and the exception ends the accept loop",
		Fails:  []string{"cut-mid-stream"},
		Start: start(streamSpec{
			protocol: "hello",
			conn:     func(c targets.Conn) targets.Conn { return &eofConn{Conn: c} },
			session: func(s protocol.Session, c targets.Conn) protocol.Session {
				return &partialLine{session: session{s}, c: c.(*eofConn)}
			},
			crash: leftAtEOF,
		}),
	},
	{
		Name: "pool-100", Protocol: "hello", Network: targets.TCP,
		Defect: "serves a hundred clients at once (a ThreadPoolExecutor(100) whose workers each hold a connection for its life) while declaring no capacity limit: clients that stall mid-request take every worker",
		Fails:  []string{"slow-clients"},
		Start:  start(streamSpec{protocol: "hello", workers: 100}),
	},
	{
		Name: "blocking-send", Protocol: "echo", Network: targets.TCP,
		Defect: "sends with a blocking sendall() inside its single select loop: one client that does not read its echo stops every other",
		Fails:  []string{"slow-reader"},
		Start: func(string) (targets.Server, error) {
			l := new(sendLock)
			return startStream(streamSpec{protocol: "echo", conn: func(c targets.Conn) targets.Conn { return lockedSendConn{c, l} }})
		},
	},
	{
		Name: "unbounded-replies", Protocol: "echo", Network: targets.TCP, MeasureRSS: true,
		Defect: "queues every reply in memory and goes on reading (asyncio's transport.write() without await drain()): clients that do not read make it grow without bound",
		Fails:  []string{"slow-reader"},
		Start:  measured(start(streamSpec{protocol: "echo", conn: func(c targets.Conn) targets.Conn { return newQueueConn(c) }})),
	},
	{
		Name: "small-backlog", Protocol: "echo", Network: targets.TCP,
		Defect: "listens with a backlog of 64 and spends 2 ms on each accepted client (a reverse lookup of its address): a burst of connects overflows the backlog, and the kernel drops their SYNs",
		Fails:  []string{"accept-burst"},
		Start:  start(streamSpec{protocol: "echo", backlog: 64, acceptDelay: 2 * time.Millisecond}),
	},
	{
		Name: "udp-reply-new-socket", Protocol: "echo", Network: targets.UDP,
		Defect: "answers from a new socket (socket().sendto), so the reply does not come from the address the client sent to",
		Fails:  []string{"datagram-echo"},
		Start:  startDgram(targets.UDP, 65536, replyFromNewSocket),
	},
	{
		Name: "udp-recvfrom-1024", Protocol: "echo", Network: targets.UDP,
		Defect: "reads with recvfrom(1024), truncating larger datagrams",
		Fails:  []string{"datagram-max"},
		Start:  startDgram(targets.UDP, 1024, echoOnce),
	},
	{
		Name: "udp-empty-stops", Protocol: "echo", Network: targets.UDP,
		Defect: "takes a zero-length datagram for the end (as an empty recv on a stream) and stops",
		Fails:  []string{"datagram-empty"},
		Start:  startDgram(targets.UDP, 65536, stopOnEmpty),
	},
	{
		Name: "udp-wrong-peer", Protocol: "echo", Network: targets.UDP,
		Defect: "answers each datagram to the sender of the previous one (an address variable overwritten too early)",
		Fails:  []string{"datagram-interleaved"},
		Start: func(root string) (targets.Server, error) {
			return startDgram(targets.UDP, 65536, previousPeer())(root)
		},
	},
	{
		Name: "unixgram-reorder", Protocol: "echo", Network: targets.Unixgram,
		Defect: "answers each datagram on its own goroutine, so replies overtake each other",
		Fails:  []string{"datagram-burst"},
		Start:  startDgram(targets.Unixgram, 65536, goroutinePerDatagram),
	},
}
