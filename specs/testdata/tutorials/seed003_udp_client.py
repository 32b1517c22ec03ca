#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), the UDP client.

Wire: one datagram, b'Hello, Server!', sent with sendto(); it reads nothing
and exits.

Known bugs: none on the wire (it never learns whether the datagram arrived,
which is UDP's nature).

usage: python3 seed003_udp_client.py HOST PORT
"""
import socket
import sys

# Address handling is the one change for testability: the tutorial sends to
# ('localhost', 8080); this sends to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed003_udp_client.py HOST PORT')
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client_socket.sendto(b'Hello, Server!', (sys.argv[1], int(sys.argv[2])))
