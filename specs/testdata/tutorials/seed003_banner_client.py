#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), the TCP client of the
banner server.

Wire: connect; one recv(1024); print it decoded as UTF-8; close. It sends
nothing.

Known bugs (kept):
- one recv() is taken as the whole banner: a banner split across segments is
  cut, and a cut inside a UTF-8 character raises UnicodeDecodeError.

usage: python3 seed003_banner_client.py HOST PORT
"""
import socket
import sys
# 创建 socket 对象
client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Address handling is the one change for testability: the tutorial connects
# to 127.0.0.1:8089; this connects to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed003_banner_client.py HOST PORT')
# ip地址
host = sys.argv[1]
# 设置端口号
port = int(sys.argv[2])
# 连接服务器
client_socket.connect((host, port))
# 接收服务器消息
message = client_socket.recv(1024)
print(message.decode('utf-8'), flush=True)
# 关闭连接
client_socket.close()
