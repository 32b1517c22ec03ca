#!/usr/bin/env python3
"""Seed 001 (用Python进行TCP网络编程), the client of the threaded hello
server.

Wire: connect; one recv(1024) for the greeting; then for each of "Michael",
"Tracy", "Sarah": send() the name (no newline) and one recv(1024) for the
answer; then send "exit" and close without reading. It prints the greeting
and each answer (Python 3 shows the bytes as b'...').

Known bugs (kept):
- one recv() per answer: an answer split across segments is read in part,
  and its rest is taken as the next answer;
- it closes right after sending "exit": if the server still has unread input
  or replies in flight, the close can turn into a reset.

usage: python3 seed001_hello_client.py HOST PORT
"""
import socket  # the tutorial's snippet omits the import
import sys

# Address handling is the one change for testability: the tutorial connects
# to ('127.0.0.1', 9999); this connects to HOST PORT from the command line.
if len(sys.argv) != 3:
    sys.exit('usage: seed001_hello_client.py HOST PORT')

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 建立连接:
s.connect((sys.argv[1], int(sys.argv[2])))
# 接收欢迎消息:
print(s.recv(1024), flush=True)  # py3: print is a function
for data in ['Michael', 'Tracy', 'Sarah']:
    # 发送数据:
    s.send(data.encode('utf-8'))  # py3: sockets send bytes
    print(s.recv(1024), flush=True)  # py3: print is a function
s.send(b'exit')  # py3: sockets send bytes
s.close()
