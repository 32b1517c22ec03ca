#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 长连接 客户端代码: the
interactive long-connection client.

Wire: connect; then for each line read from stdin (prompt ">" on stdout)
until the line "exit": send() the line's UTF-8 bytes (no newline), one
recv(1024), print the answer decoded. On "exit" it closes without sending
anything.

Known bugs (kept):
- an empty line sends nothing (send(b'') writes no bytes) and then waits in
  recv() for an answer that never comes: the client hangs;
- one recv() per answer: an answer split across segments is read in part,
  and its rest is taken as the next answer;
- a server that closes makes recv() return b'': it prints an empty line and
  carries on, and the next send() may fail with a broken pipe or a reset;
- EOF on stdin (no "exit") raises EOFError.

usage: python3 seed003_ack_client.py HOST PORT   (lines on stdin, "exit" to stop)
"""
import socket
import sys
# 创建 socket 对象
client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Address handling is the one change for testability: the tutorial connects
# to 127.0.0.1:8089; this connects to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed003_ack_client.py HOST PORT')
# 获取主机名
host = sys.argv[1]
# 设置端口号
port = int(sys.argv[2])
# 连接服务器
client_socket.connect((host, port))
data = input(">")
while data != 'exit':
    # 发送数据
    client_socket.send(data.encode('utf-8'))
    # 接收数据
    message = client_socket.recv(1024)
    print(message.decode('utf-8'), flush=True)
    data = input(">")
# 关闭连接
client_socket.close()
