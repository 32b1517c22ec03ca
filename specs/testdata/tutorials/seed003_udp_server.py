#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), the UDP server.

Wire: recvfrom(1024) in a loop and print each datagram decoded as UTF-8. It
never answers.

Known bugs (kept):
- recvfrom(1024) truncates a larger datagram to its first 1024 bytes (the
  rest is discarded by the kernel);
- a datagram that is not UTF-8 (or whose 1024-byte cut splits a character)
  raises UnicodeDecodeError and stops the server.

usage: python3 seed003_udp_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on udp 127.0.0.1:PORT".
"""
import socket
import sys

server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Address handling is the one change for testability: the tutorial binds
# ('localhost', 8080); this binds 127.0.0.1 and the port from the command line
# (default 0: any free port), and prints "listening on udp 127.0.0.1:PORT".
server_socket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
print('listening on udp %s:%d' % server_socket.getsockname(), flush=True)  # testability
# 处理收到的数据
while True:
    data, addr = server_socket.recvfrom(1024)
    print(data.decode('utf-8'), flush=True)
    # 处理数据
    # ...
