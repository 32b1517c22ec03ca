#!/usr/bin/env python3
"""Seed 002 (python异步socket编程之二), 4.3 示例2, asyncore_echo_server.py:
an echo server on asyncore.dispatcher, with the tutorial's "and to use it"
lines as its main.

Wire: every recv(1024) is appended to the connection's buffer and sent back
with send() when the socket is writable; the rest of a partial send stays
in the buffer. No greeting, nothing added. An empty recv() (the client's
half-close or close) closes the connection at once. It logs every event at
DEBUG level on stderr.

Known bugs (kept):
- on the client's half-close it closes at once, dropping any echo still in
  its buffer: a client that sends, half-closes and then reads can lose the
  end of its echo;
- the buffer has no limit: a client that sends without reading makes the
  server hold everything it sent;
- it logs a line per event on stderr, which costs more than the echo itself.
It needs asyncore, which Python 3.12 removed: it runs on Python 3.11 and older.

usage: python3 seed002_asyncore_echo_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import logging
import asyncore
import socket
import sys

logging.basicConfig(level=logging.DEBUG, format="%(created)-15s %(msecs)d %(levelname)8s %(thread)d %(name)s %(message)s")
log = logging.getLogger(__name__)
BACKLOG = 5
SIZE = 1024

class EchoHandler(asyncore.dispatcher):
    def __init__(self, conn_sock, client_address, server):
        self.server = server
        self.client_address = client_address
        self.buffer = b""  # py3: recv() returns bytes

        # We dont have anything to write, to start with
        self.is_writable = False

        # Create ourselves, but with an already provided socket
        asyncore.dispatcher.__init__(self, conn_sock)
        log.debug("created handler; waiting for loop")

    def readable(self):
        return True # We are always happy to read

    def writable(self):
        return self.is_writable # But we might not have
                                # anything to send all the time

    def handle_read(self):
        log.debug("handle_read")
        data = self.recv(SIZE)
        log.debug("after recv")
        if data:
            log.debug("got data")
            self.buffer += data
            self.is_writable = True # sth to send back now
        else:
            log.debug("got null data")

    def handle_write(self):
        log.debug("handle_write")
        if self.buffer:
            sent = self.send(self.buffer)
            log.debug("sent data")
            self.buffer = self.buffer[sent:]
        else:
            log.debug("nothing to send")
        if len(self.buffer) == 0:
            self.is_writable = False

    # Will this ever get called? Does loop() call
    # handle_close() if we called close, to start with?
    def handle_close(self):
        log.debug("handle_close")
        log.info("conn_closed: client_address=%s:%s" % \
                 (self.client_address[0],
                  self.client_address[1]))
        self.close()
        #pass

class EchoServer(asyncore.dispatcher):
    allow_reuse_address = False
    request_queue_size = 5
    address_family = socket.AF_INET
    socket_type = socket.SOCK_STREAM

    def __init__(self, address, handlerClass=EchoHandler):
        self.address = address
        self.handlerClass = handlerClass

        asyncore.dispatcher.__init__(self)
        self.create_socket(self.address_family,
                           self.socket_type)

        if self.allow_reuse_address:
            self.set_reuse_addr()

        self.server_bind()
        self.server_activate()

    def server_bind(self):
        self.bind(self.address)
        log.debug("bind: address=%s:%s" % (self.address[0], self.address[1]))

    def server_activate(self):
        self.listen(self.request_queue_size)
        log.debug("listen: backlog=%d" % self.request_queue_size)

    def fileno(self):
        return self.socket.fileno()

    def serve_forever(self):
        asyncore.loop()

    # TODO: try to implement handle_request()

    # Internal use
    def handle_accept(self):
        (conn_sock, client_address) = self.accept()
        if self.verify_request(conn_sock, client_address):
            self.process_request(conn_sock, client_address)

    def verify_request(self, conn_sock, client_address):
        return True

    def process_request(self, conn_sock, client_address):
        log.info("conn_made: client_address=%s:%s" % \
                 (client_address[0],
                  client_address[1]))
        self.handlerClass(conn_sock, client_address, self)

    def handle_close(self):
        self.close()

# and to use it (the tutorial imports this file as asyncore_echo_server):
if __name__ == '__main__':
    # Address handling is the one change for testability: the tutorial
    # listens on 0.0.0.0:8080; this listens on 127.0.0.1 and the port from
    # the command line (default 0: any free port), and prints
    # "listening on tcp 127.0.0.1:PORT".
    interface = "127.0.0.1"
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = EchoServer((interface, port))
    print('listening on tcp %s:%d' % server.socket.getsockname(), flush=True)  # testability
    server.serve_forever()
