#!/usr/bin/env python3
"""Seed 000 (Python Socket网络编程), the select() example's client: two
sockets, two messages, each sent on both sockets before reading.

Wire: two connections. For each message in turn ("Hello, server.", then
"This is my message", no newlines): send() it on both connections, then one
recv(1024) on each. It prints what it received (Python 3 shows the bytes as
b'...') and exits without closing the connections itself (the process exit
closes them).

Known bugs (kept):
- one recv() per message: an echo split across segments is read in part, and
  its rest is taken as the answer to the next message;
- send() is not sendall(): a partial send is not completed;
- a connection is closed only when recv() returns empty, which an echo server
  never makes it do.

usage: python3 seed000_select_client.py HOST PORT
"""
import socket
import sys

# Address handling is the one change for testability: the tutorial connects
# to ('localhost', 8888); this connects to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed000_select_client.py HOST PORT')

# create 2 sockets for clients
clients = [socket.socket(socket.AF_INET, socket.SOCK_STREAM),
           socket.socket(socket.AF_INET, socket.SOCK_STREAM)
           ]
# tow messages to send
messages = ["Hello, server.", "This is my message"]
# connect to the server
server_address = (sys.argv[1], int(sys.argv[2]))  # testability: was ('localhost', 8888)
print("connecting to {addr}".format(addr = server_address), flush=True)  # py3: print is a function
for sock in clients:
    sock.connect(server_address)
# send one piece of messages once
for msg in messages:
    # send message to the server
    for sock in clients:
        print("{addr} : sending {msg}".format(addr = sock.getpeername(), msg = msg), flush=True)  # py3: print is a function
        sock.send(msg.encode('utf-8'))  # py3: sockets send bytes
    # read response from the server
    for sock in clients:
        response_data = sock.recv(1024)
        print("{addr} : received {data}".format(addr = sock.getpeername(), data = response_data), flush=True)  # py3: print is a function
        if not response_data:
            print("closing socket {addr}".format(addr = sock.getpeername()), flush=True)  # py3: print is a function
            sock.close()
