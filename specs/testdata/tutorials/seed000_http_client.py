#!/usr/bin/env python3
"""Seed 000 (Python Socket网络编程), the client socket example, written for
the "HTTP" server of the same tutorial.

Wire: connect; sendall the bytes "Hello, world" (no newline, not an HTTP
request); one recv(1024); close; print "Received" and repr() of the bytes
(Python 3 shows them as b'...').

Known bugs (kept):
- one recv() is taken as the whole answer: a longer or split answer is cut;
- "Hello, world" has no line end, so a server that reads lines (any real
  HTTP server) waits for the rest of the line while this client waits for
  the answer: both hang until one side times out.

usage: python3 seed000_http_client.py HOST PORT
"""
import socket
import sys

# Address handling is the one change for testability: the tutorial connects
# to ('localhost', 8888); this connects to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed000_http_client.py HOST PORT')
HOST = sys.argv[1] # the remote host
PORT = int(sys.argv[2]) # port used by server
client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# connect to server
client_socket.connect((HOST, PORT))
# send something to the server
client_socket.sendall("Hello, world".encode('utf-8'))  # py3: sockets send bytes
data = client_socket.recv(1024)
client_socket.close()
print('Received', repr(data), flush=True)  # py3: print is a function
