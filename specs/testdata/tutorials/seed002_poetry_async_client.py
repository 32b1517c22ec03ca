#!/usr/bin/env python3
"""Seed 002 (python异步socket编程之二), the asynchronous ("异步") poetry
client: all three ports at once, non-blocking sockets and select().

Wire: connect to the three ports (blocking connects, then non-blocking
sockets); select() on the three; from a readable one, recv(1024) until
EWOULDBLOCK or EOF; an empty read ends that poem: print it, close, "Task N
finished". It prints every chunk as it comes, a "Task N: got B bytes of
poetry from HOST:PORT" line per read, and the elapsed time at the end
(about one poem's time, 2 s, from the tutorial's server, against 6 s for the
blocking client).

Known bugs (kept):
- each recv() is decoded on its own: a multi-byte UTF-8 character cut
  between two reads raises UnicodeDecodeError (harmless with the ASCII poem);
- a poem's last bytes and its EOF read in one pass are counted, and the
  poem is finished on the next select() pass (one more wake-up, no loss).

usage: python3 seed002_poetry_async_client.py HOST PORT PORT PORT
"""
import datetime, errno, optparse, select, socket
import sys

# Address handling is the one change for testability: the tutorial connects
# to 127.0.0.1 ports 10000, 10001 and 10002; this takes the host and the
# three ports from the command line.
HOST = sys.argv[1] if len(sys.argv) == 5 else None

def connect(port):
    """Connect to the given server and return a non-blocking socket."""
    address = (HOST, port)  # testability: was ('127.0.0.1', port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(address)
    sock.setblocking(0) # 设置为非阻塞模式
    return sock

def format_address(address):
    host, port = address
    return '%s:%s' % (host or '127.0.0.1', port)

if __name__ == '__main__':
    if HOST is None:
        sys.exit('usage: seed002_poetry_async_client.py HOST PORT PORT PORT')
    ports = [int(p) for p in sys.argv[2:]]  # testability: was [10000, 10001, 10002]
    start = datetime.datetime.now()
    sockets = list(map(connect, ports))
    poems = dict.fromkeys(sockets, '') # socket -> accumulated poem
    sock2task = dict([(s, i + 1) for i, s in enumerate(sockets)])
    while sockets:
        #运用select来确保那些可读取的异步socket可以立即开始读取IO
        #OS不停的搜索目前可以read的socket,有的话就返回rlist
        rlist, _, _ = select.select(sockets, [], [])
        for sock in rlist:
            data = ''
            while True:
                try:
                    new_data = sock.recv(1024)
                    new_data = new_data.decode('utf8')
                except socket.error as e:
                    if e.args[0] == errno.EWOULDBLOCK:
                        break
                    raise
                else:
                    if not new_data:
                        break
                    else:
                        print(new_data, flush=True)
                        data += new_data
            task_num = sock2task[sock]
            if not data:
                print(poems[sock], flush=True) # 打印sock接收到的数据
                sockets.remove(sock)
                sock.close()
                print('Task %d finished\n' % task_num, flush=True)
            else:
                addr_fmt = format_address(sock.getpeername())
                msg = 'Task %d: got %d bytes of poetry from %s\n'
                print(msg % (task_num, len(data), addr_fmt), flush=True)
                poems[sock] += data # 保存每个sock接收到的数据

    elapsed = datetime.datetime.now() - start
    print('Got poems in %s' %elapsed, flush=True)
