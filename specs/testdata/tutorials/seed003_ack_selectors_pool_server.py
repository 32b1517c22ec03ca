#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 基于selectors库的IO多路复用:
a selectors loop (DefaultSelector, epoll on Linux) whose read callback hands
the connection to a thread pool (ThreadPoolExecutor, 5 workers).

Wire: no greeting. Each recv(1024) that returns data is answered with one
send() of "Server received your message." (no newline); an empty recv()
closes the connection.

Known bugs (kept):
- the read callback only submits the socket to the pool; the selector keeps
  reporting it readable (level-triggered) until a worker has read it, so the
  same socket is submitted again and again while the loop spins; the extra
  workers' recv() on the non-blocking socket raises BlockingIOError, which
  the pool swallows;
- two workers can read the same connection at once, so answers can be
  reordered, and on the close two workers can both see EOF: the second
  unregister() raises KeyError (swallowed);
- one recv() is one message: two messages in one segment get one answer;
- what it read is decoded as UTF-8 to print it: bytes that are not UTF-8
  raise UnicodeDecodeError in the worker (swallowed) before the answer, and
  the connection stays open, unanswered;
- getpeername() after the peer reset raises before unregister(): the dead
  socket stays registered and readable, submitted to the pool forever;
- send() on the non-blocking socket may be partial (harmless for 29 bytes)
  or fail with BlockingIOError (the answer is lost).

usage: python3 seed003_ack_selectors_pool_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import selectors
import sys
from concurrent.futures import ThreadPoolExecutor
# 创建默认的选择器
selector = selectors.DefaultSelector()
executor = ThreadPoolExecutor(5)
def accept(sock, mask):
    conn, addr = sock.accept()
    print(f"Accepted connection from {addr}", flush=True)
    conn.setblocking(False)
    selector.register(conn, selectors.EVENT_READ, read)
def handle_client(sock):
    data = sock.recv(1024)
    if data:
        print(f"Received data from {sock.getpeername()}: {data.decode('utf-8')}", flush=True)
        # 这里可以根据需要处理数据,并回复客户端
        response = "Server received your message."
        sock.send(response.encode('utf-8'))
    else:
        # 连接关闭
        print(f"Closing connection from {sock.getpeername()}", flush=True)
        selector.unregister(sock)
        sock.close()
def read(sock, mask):
    executor.submit(handle_client, sock)
# 创建服务器套接字
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Address handling is the one change for testability: the tutorial binds
# ('localhost', 8089); this binds 127.0.0.1 and the port from the command line
# (default 0: any free port), and prints "listening on tcp 127.0.0.1:PORT".
server_socket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
server_socket.listen(5)
print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability
server_socket.setblocking(False) # 设置为非阻塞
# 注册服务器套接字,监听连接事件
selector.register(server_socket, selectors.EVENT_READ, accept)
try:
    while True:
        events = selector.select() # 阻塞,直到有事件发生
        for key, mask in events:
            callback = key.data
            callback(key.fileobj, mask)
finally:
    selector.close()
    server_socket.close()
    executor.shutdown()
