#!/usr/bin/env python3
"""Seed 001 (用Python进行TCP网络编程), the threaded server: one thread per
connection (tcplink), "Welcome!", then "Hello, NAME!" per message.

Wire: on accept, send "Welcome!" (no newline). Then loop: recv(1024); sleep
1 s; if what was read is exactly b"exit", or empty (EOF), close; otherwise
send "Hello, " + the bytes read + "!" (no newline). It prints
"Waiting for connection..." and a line per connection opened and closed.

Known bugs (kept):
- one recv() is taken as one message: there is no framing, so two names in
  one segment get one "Hello, MichaelTracy!" and a name split across
  segments gets two answers; "exit" is honoured only when it arrives alone;
- time.sleep(1) after every recv(), the EOF one included: a message costs at
  least 1 s, and the close after the client's EOF comes 1 s late;
- listen(5): clients that connect at once beyond the backlog wait for SYN
  retransmissions;
- send() is not sendall(): a partial send is not completed.

usage: python3 seed001_hello_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
# The tutorial's snippets omit the imports; these are the ones they use.
import socket
import sys
import threading
import time


def tcplink(sock, addr):
    print('Accept new connection from %s:%s...' % addr, flush=True)  # py3: print is a function
    sock.send(b'Welcome!')  # py3: sockets send bytes
    while True:
        data = sock.recv(1024)
        time.sleep(1)
        if data == b'exit' or not data:  # py3: recv() returns bytes, which never equal the str 'exit'
            break
        sock.send(b'Hello, %s!' % data)  # py3: bytes formatting, so the name goes back byte for byte
    sock.close()
    print('Connection from %s:%s closed.' % addr, flush=True)  # py3: print is a function


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Address handling is the one change for testability: the tutorial binds
# ('127.0.0.1', 9999); this takes the port from the command line (default 0:
# any free port) and prints "listening on tcp 127.0.0.1:PORT".
# 监听端口:
s.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
s.listen(5)
print('listening on tcp %s:%d' % s.getsockname(), flush=True)  # testability: the address a test connects to
print('Waiting for connection...', flush=True)  # py3: print is a function
while True:
    # 接受一个新连接:
    sock, addr = s.accept()
    # 创建新线程来处理TCP连接:
    t = threading.Thread(target=tcplink, args=(sock, addr))
    t.start()
