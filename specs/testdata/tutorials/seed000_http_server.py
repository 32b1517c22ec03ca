#!/usr/bin/env python3
"""Seed 000 (Python Socket网络编程), the complete server socket example: the
"HTTP" server, one thread per connection.

Wire: accept; one recv(1024); send the bare bytes "Hello, world!" (no status
line, no headers, no newline) with sendall; close. Whatever the client sent,
and however much, it gets that one answer: it is not HTTP at all, so an HTTP
client sees a response without a status line, ended by the close.

Known bugs (kept):
- one recv() is taken as the whole request: a request longer than 1024 bytes
  or split across segments is answered after its first part, and the unread
  rest makes the close a reset (RST) that can destroy the answer;
- the reply is not an HTTP response;
- request_data.decode() raises on a request that is not UTF-8: the handler
  thread dies before it answers and the connection is closed unanswered;
- the tutorial's code does not run even on Python 2: the handler reads from
  client_connection (serve_forever's local, a NameError in the thread), the
  thread is started with args=(sock, addr) (NameError in serve_forever) and
  errno is never imported; these are fixed below, marked "py3:".

usage: python3 seed000_http_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import errno  # py3: the tutorial uses errno.EINTR but never imports errno (NameError)
import socket
import sys
import threading

# Address handling is the one change for testability: the tutorial binds
# ('', 8888); this binds 127.0.0.1 and the port given on the command line
# (default 0: any free port), and prints "listening on tcp 127.0.0.1:PORT".
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
SERVER_ADDRESS = (HOST, PORT) = '127.0.0.1', PORT
REQUEST_QUEUE_SIZE = 1024


def handle_request(sock, addr):
    print("Accept new connection from {addr}".format(addr = addr), flush=True)  # py3: print is a function
    request_data = sock.recv(1024)  # py3: was client_connection.recv, a NameError (serve_forever's local); the handler's socket is sock
    print(request_data.decode(), flush=True)  # py3: print is a function
    http_response = "Hello, world!"
    # send response data to the socket
    sock.sendall(http_response.encode('utf-8'))  # py3: sockets send bytes
    sock.close()


def serve_forever():
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # reuse socket immediately
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind(SERVER_ADDRESS)
    server_socket.listen(REQUEST_QUEUE_SIZE)
    print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability: the address a test connects to
    print('Serving HTTP on port {port} ...'.format(port = PORT), flush=True)  # py3: print is a function
    while True:
        try:
            client_connection, client_address = server_socket.accept()
        except IOError as e:
            code, msg = e.args
            # restart 'accept' if it was interrupted
            if code == errno.EINTR:
                continue
            else:
                raise
        # create a thread to handle this request
        t = threading.Thread(target=handle_request, args=(client_connection, client_address))  # py3: was args=(sock, addr), a NameError
        t.start()


if __name__ == '__main__':
    serve_forever()
