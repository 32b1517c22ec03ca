#!/usr/bin/env python3
"""Seed 001 (用Python进行TCP网络编程), the client that fetches the Sina home
page over a raw socket.

Wire: connect; send() the request
"GET / HTTP/1.1\\r\\nHost: www.sina.com.cn\\r\\nConnection: close\\r\\n\\r\\n"
(the Host header still names Sina); recv(1024) until the server closes;
split the answer at the first blank line; print the header (Python 3 shows
the bytes as b'...') and write the body to sina.html in the current
directory.

Known bugs (kept):
- an answer without a blank line ("\\r\\n\\r\\n") raises ValueError (too few
  values to unpack) and nothing is written;
- the body is written as it came: a chunked body keeps its chunk sizes, a
  compressed one stays compressed;
- it relies on the server closing (Connection: close); a server that keeps
  the connection open makes it wait forever;
- send() is not sendall().

usage: python3 seed001_http_get_client.py HOST PORT   (writes ./sina.html)
"""
# 导入socket库:
import socket
import sys

# Address handling is the one change for testability: the tutorial connects
# to ('www.sina.com.cn', 80); this connects to HOST PORT from the command
# line. The request bytes are unchanged, Host header included.
if len(sys.argv) != 3:
    sys.exit('usage: seed001_http_get_client.py HOST PORT')

# 创建一个socket:
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 建立连接:
s.connect((sys.argv[1], int(sys.argv[2])))
# 发送数据:
s.send(b'GET / HTTP/1.1\r\nHost: www.sina.com.cn\r\nConnection: close\r\n\r\n')  # py3: sockets send bytes
# 接收数据:
buffer = []
while True:
    # 每次最多接收1k字节:
    d = s.recv(1024)
    if d:
        buffer.append(d)
    else:
        break
data = b''.join(buffer)  # py3: recv() returns bytes, joined with b''
# 关闭连接:
s.close()
header, html = data.split(b'\r\n\r\n', 1)  # py3: split bytes with a bytes separator
print(header, flush=True)  # py3: print is a function
# 把接收的数据写入文件:
with open('sina.html', 'wb') as f:
    f.write(html)
