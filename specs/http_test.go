package specs_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpBody is the http protocol's body (DESIGN.md: the tutorial's hello world).
const httpBody = "Hello, world!"

// httpSpecs: the HTTP/1.1 hello-world server.
func httpSpecs(tg *target) {
	behave(tg, "http-get", func() {
		c := connectNoGreeting(tg)
		check(c.Write([]byte(httpRequest("/"))), "the request to be sent", "")
		br := bufio.NewReader(c.NetConn())
		readHTTP(tg, c, br, "GET /")
	})

	behave(tg, "http-keepalive", func() {
		c := connectNoGreeting(tg)
		br := bufio.NewReader(c.NetConn())
		for i := 0; i < 3; i++ {
			check(c.Write([]byte(httpRequest("/"))), fmt.Sprintf("request %d to be sent on the same connection", i+1),
				"the server closed the connection after one response (no keep-alive)")
			readHTTP(tg, c, br, fmt.Sprintf("request %d on one connection", i+1))
		}
		const pipelined = 5
		check(c.Write([]byte(strings.Repeat(httpRequest("/"), pipelined))), "pipelined requests to be sent", "the server closed the connection")
		for i := 0; i < pipelined; i++ {
			readHTTP(tg, c, br, fmt.Sprintf("pipelined request %d of %d", i+1, pipelined))
		}
	})

	behave(tg, "http-malformed", func() {
		c := connectNoGreeting(tg)
		check(c.Write([]byte("THIS IS NOT HTTP\r\n\r\n")), "garbage to be sent", "")
		br := bufio.NewReader(c.NetConn())
		check(c.NetConn().SetReadDeadline(time.Now().Add(tg.timeout)), "", "")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			failf("a 400 response to a malformed request", err.Error(), "the server drops the connection or crashes on a request it cannot parse")
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			failf("status 400 to a malformed request", resp.Status, "the server answers whatever it is sent with 200")
		}
		servedFresh(tg, "a malformed request")
	})
}

func httpRequest(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
}

// readHTTP reads one response and checks it is 200 with the hello body.
func readHTTP(tg *target, c *client, br *bufio.Reader, what string) {
	check(c.NetConn().SetReadDeadline(time.Now().Add(tg.timeout)), "", "")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		failf("a response to "+what, err.Error(), "the server closed the connection, or answers only the first request of a read")
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		failf("the whole body of the response to "+what, err.Error(), "the Content-Length does not match the body")
	}
	if resp.StatusCode != http.StatusOK {
		failf("200 OK to "+what, resp.Status, "the server does not route /")
	}
	if string(body) != httpBody {
		failf(fmt.Sprintf("the body %q", httpBody), fmt.Sprintf("%q", body), "the server sends another body")
	}
}
