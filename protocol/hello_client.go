package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// helloClient sends one name per request. Without ClientOptions.Name each
// request's name is "socklab-SEQ", so a reply to another request is caught.
type helloClient struct {
	f    Framing
	name string
	m    bytesMatcher
	want []byte
}

func newHelloClient(o ClientOptions) (Client, error) {
	if err := checkClientLine("hello: name", o.Name); err != nil {
		return nil, err
	}
	if o.Name == HelloExit {
		return nil, fmt.Errorf("hello: name %q: it is the exit command", o.Name)
	}
	return &helloClient{f: o.Framing, name: o.Name}, nil
}

func (c *helloClient) Greeting() Matcher {
	m := new(bytesMatcher)
	m.reset([]byte(c.f.Frame(HelloGreeting)))
	return m
}

func (c *helloClient) Next(dst []byte, seq uint64) ([]byte, Matcher) {
	name := c.name
	if name == "" {
		name = "socklab-" + strconv.FormatUint(seq, 10)
	}
	dst = c.f.AppendEnd(append(dst, name...))
	c.want = append(c.want[:0], "Hello, "...)
	c.want = append(c.want, name...)
	c.want = c.f.AppendEnd(append(c.want, '!'))
	c.m.reset(c.want)
	return dst, &c.m
}

// Farewell appends the exit line, after which the server closes.
func (c *helloClient) Farewell(dst []byte) []byte {
	return c.f.AppendEnd(append(dst, HelloExit...))
}

// checkClientLine refuses a client value that would not fit in one line.
func checkClientLine(what, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%s %q: must not contain a line break", what, v)
	}
	return nil
}

// checkMaxLine refuses a negative line limit (zero means the default).
func checkMaxLine(n int) error {
	if n < 0 {
		return fmt.Errorf("max line %d: must not be negative", n)
	}
	return nil
}
