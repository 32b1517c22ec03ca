#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), the TCP server: an
iterative banner server.

Wire: accept; send() the UTF-8 bytes of "欢迎访问服务器!" (22 bytes, no
newline); close; accept the next client. It reads nothing.

Known bugs (kept):
- one client at a time (iterative), in accept order;
- send() is not sendall() (22 bytes always fit, so harmless here);
- it closes without reading: a client that sent something first gets a
  reset (RST) instead of an orderly close, which can destroy the banner.

usage: python3 seed003_banner_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import sys
# 创建 socket 对象
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# ip地址
host = '127.0.0.1'
# 设置端口号
# Address handling is the one change for testability: the tutorial uses port
# 8089; this takes the port from the command line (default 0: any free port)
# and prints "listening on tcp 127.0.0.1:PORT".
port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
# 绑定地址和端口
server_socket.bind((host, port))
# 监听最多5个连接
server_socket.listen(5)
print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability
while True:
    # 建立客户端连接
    client_socket, addr = server_socket.accept()
    print('连接地址:', addr, flush=True)
    # 发送消息到客户端
    message = '欢迎访问服务器!'
    client_socket.send(message.encode('utf-8'))
    # 关闭连接
    client_socket.close()
