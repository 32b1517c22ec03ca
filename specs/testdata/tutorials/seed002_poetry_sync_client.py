#!/usr/bin/env python3
"""Seed 002 (python异步socket编程之二), the blocking ("同步") poetry client:
the three ports one after the other.

Wire: for each port in turn: connect; recv(4) until the server closes;
print the poem (1111222233334444 from the tutorial's server); close. Three
poems from a server that sleeps 0.5 s a line take about 6 s.

The page lost the code's indentation; "print(poem)" and the last
"sock.close()" are read as the end of the for body (one print per poem, as
the tutorial's text says), not of the while body.

Known bugs (kept):
- each 4-byte recv() is decoded on its own: a multi-byte UTF-8 character cut
  between two reads raises UnicodeDecodeError (harmless with the ASCII poem);
- the socket is closed twice (harmless in Python).

usage: python3 seed002_poetry_sync_client.py HOST PORT PORT PORT
"""
from socket import *
import sys
# 建立三个客户端,分别连接三个不同的服务端程序, 接收服务端传过来的数据并打印
# 这三个客户端是阻塞方式通信的
if __name__ == '__main__':
    # Address handling is the one change for testability: the tutorial
    # connects to 127.0.0.1 ports 10000, 10001 and 10002; this takes the host
    # and the three ports from the command line.
    if len(sys.argv) != 5:
        sys.exit('usage: seed002_poetry_sync_client.py HOST PORT PORT PORT')
    ports = [int(p) for p in sys.argv[2:]]
    for port in ports:
        address = (sys.argv[1], port)
        sock = socket(AF_INET, SOCK_STREAM)
        sock.connect(address)
        poem = ''

        while True:
            data = sock.recv(4)
            if not data:
                sock.close()
                break
            poem += data.decode('utf8')
        print(poem, flush=True)
        sock.close()
