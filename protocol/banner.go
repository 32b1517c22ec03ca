package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// DefaultBanner is the banner protocol's default message, the tutorial's
// iterative server's welcome.
const DefaultBanner = "欢迎访问服务器!"

// BannerReply returns what the banner server sends for banner (the default
// if empty) under framing f: the banner's bytes exactly, then under Line one
// "\n", so that line-reading clients see a whole line. The tutorial (Raw)
// sends no newline; a client reading to EOF, as the tutorial's does, sees
// the same text either way.
func BannerReply(banner string, f Framing) string {
	if banner == "" {
		banner = DefaultBanner
	}
	return f.Frame(banner)
}

func init() {
	register(Protocol{
		Name:    "banner",
		Summary: "sends a UTF-8 welcome line (欢迎访问服务器!, configurable), then closes in order",
		Stream:  true,
		Framed:  true,
		New: func(o Options) (Factory, error) {
			reply := BannerReply(o.Banner, o.Framing)
			return func() Session { return &bannerSession{reply: reply} }, nil
		},
		NewClient: newBannerClient,
	})
}

// bannerSession sends its banner on Open and closes; input is ignored (the
// driver drains it during its orderly close).
type bannerSession struct{ reply string }

func (s *bannerSession) Open(_ time.Time, out *bytes.Buffer) Step {
	out.WriteString(s.reply)
	return Step{Close: true}
}

func (*bannerSession) Data([]byte, time.Time, *bytes.Buffer) Step { return Step{Close: true} }
func (*bannerSession) EOF(time.Time, *bytes.Buffer) Step          { return Step{Close: true} }
func (*bannerSession) Wake(time.Time, *bytes.Buffer) Step         { return Step{Close: true} }

// newBannerClient expects the banner (ClientOptions.Banner, default
// DefaultBanner) and then EOF.
func newBannerClient(o ClientOptions) (Client, error) {
	return &streamClient{want: []byte(BannerReply(o.Banner, o.Framing))}, nil
}

// streamClient is the client of a protocol whose whole exchange is one
// server stream followed by the server's close (banner, poetry): it sends
// nothing and expects exactly want, then EOF.
type streamClient struct {
	want []byte
	m    eofMatcher
}

func (*streamClient) Greeting() Matcher { return nil }

func (c *streamClient) Next(dst []byte, _ uint64) ([]byte, Matcher) {
	c.m = eofMatcher{}
	c.m.body.reset(c.want)
	return dst, &c.m
}

// eofMatcher expects exact bytes and then EOF; it completes only at EOF, so
// bytes after the expected ones are a wrong reply.
type eofMatcher struct{ body bytesMatcher }

var errTrailing = errors.New("bytes after the expected reply")

func (m *eofMatcher) Match(p []byte, eof bool) (int, bool, error) {
	n := 0
	if m.body.got < len(m.body.want) {
		k, done, err := m.body.Match(p, eof)
		n = k
		if err != nil || !done {
			return n, false, err
		}
	}
	if rest := p[n:]; len(rest) > 0 {
		return n, false, fmt.Errorf("%w: %w: %q", ErrWrongReply, errTrailing, rest[:min(len(rest), 32)])
	}
	return n, eof, nil
}
