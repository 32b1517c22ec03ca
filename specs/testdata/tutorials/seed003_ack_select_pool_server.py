#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 非阻塞IO: a select()
loop that hands every readable connection to a thread pool
(ThreadPoolExecutor, 5 workers).

Wire: no greeting. Each recv(1024) that returns data is answered with one
send() of "Server received your message." (no newline); an empty recv()
closes the connection.

Known bugs (kept):
- the loop submits a readable socket to the pool and goes straight back to
  select(), where the socket is still readable until a worker has read it:
  the same socket is submitted again and again; the extra workers' recv()
  on the non-blocking socket raises BlockingIOError, which the pool swallows
  (the futures are never looked at). The loop spins while a read is pending;
- two workers can read the same connection at once, so answers can be
  reordered, and on the close two workers can both see EOF: the second
  remove() raises ValueError and its getpeername() or recv() on the closed
  socket raises OSError (swallowed too);
- a worker removes and closes a socket while the loop may be inside select()
  with it, or about to pass it to select(): select() then fails on a closed
  descriptor (ValueError for -1, or EBADF) and the loop, with the whole
  server, dies;
- one recv() is one message: two messages in one segment get one answer;
- what it read is decoded as UTF-8 to print it: bytes that are not UTF-8
  raise UnicodeDecodeError in the worker (swallowed) before the answer, and
  the connection stays open, unanswered;
- getpeername() after the peer reset raises and leaves the socket open;
- send() on the non-blocking socket may be partial (harmless for 29 bytes)
  or fail with BlockingIOError (the answer is lost).

usage: python3 seed003_ack_select_pool_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import select
import sys
from concurrent.futures import ThreadPoolExecutor
def handle_client(sock, clients):
    data = sock.recv(1024)
    if data:
        print(f"Received data from {sock.getpeername()}: {data.decode('utf-8')}", flush=True)
        # 这里可以根据需要处理数据,并回复客户端
        response = "Server received your message."
        sock.send(response.encode('utf-8'))
    else:
        # 连接关闭
        print(f"Closing connection from {sock.getpeername()}", flush=True)
        clients.remove(sock)
        sock.close()
# 创建非阻塞 socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Address handling is the one change for testability: the tutorial binds
# ('localhost', 8088); this binds 127.0.0.1 and the port from the command line
# (default 0: any free port), and prints "listening on tcp 127.0.0.1:PORT".
server_socket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
server_socket.listen(5)
print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability
server_socket.setblocking(False) # 设置为非阻塞
# 存储客户端连接的列表
clients = [server_socket]
executor = ThreadPoolExecutor(5)
while True:
    # 使用 select 检查是否有准备好的套接字
    readable, _, _ = select.select(clients, [], [], 1)
    for sock in readable:
        if sock == server_socket:
            # 有新连接
            client_socket, client_address = server_socket.accept()
            print(f"Accepted connection from {client_address}", flush=True)
            client_socket.setblocking(False) # 设置为非阻塞
            clients.append(client_socket)
        else:
            # 有数据可读
            executor.submit(handle_client, sock, clients)
    # 可以处理其他任务,但是要注意,不能耗时太久,否则socket无法得到及时处理
    # 其他任务
