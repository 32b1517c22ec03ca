#!/usr/bin/env python3
# -*- coding:utf-8 -*-
"""Seed 002 (python异步socket编程之二), multithrd_socket_server.py: the poetry
server, three listening ports, one thread per port.

Wire: on each port, accept one client at a time; send the poem's lines
"1111", "2222", "3333", "4444" one sendall() each, stripped (no newlines, so
the client sees 1111222233334444), with time.sleep(0.5) after each line;
then close. A poem takes about 2 s; the port's next client waits for it.

Known bugs (kept):
- the lines are stripped of their newlines, so the client cannot tell where
  a line ends;
- one client at a time per port: a second client of the same port waits in
  the backlog until the first poem is over;
- an empty line would end the poem early (readline().strip() is empty), a
  latent bug with this poem;
- a client that goes away mid-poem is noticed only by the next sendall()
  (EPIPE or ECONNRESET), and the socket is then closed twice.
The tutorial's page shows "?2222" on the second line of the poem: that "?"
is the page's mangled white space (it also stands alone on the blank lines
of the page); with or without it the wire is "2222", since strip() removes
leading white space.

usage: python3 seed002_poetry_server.py [PORT PORT PORT]   (default 0 0 0)
The first three stdout lines are "listening on tcp 127.0.0.1:PORT", one per
port.
"""
#
# File: multithrd_socket_server.py
#
import optparse
import os
import socket
import sys
import time
from threading import Thread
from io import StringIO
txt = '''1111
2222
3333
4444
'''
# 服务端程序处理过程
def server(listen_socket):
    while True:
        buf = StringIO(txt)
        sock, addr = listen_socket.accept()
        print('Somebody at %s wants poetry!' %(addr,), flush=True)
        while True:
            try:
                line = buf.readline().strip()
                if not line:
                    sock.close()
                    break
                sock.sendall(line.encode('utf8')) # this is a blocking call
                print('send bytes to client: %s' %line, flush=True)
            except socket.error:
                sock.close()
                break
            time.sleep(0.5) # server每发送一个单词后等待一会
        sock.close()
        print('\n', flush=True)
# 同时开启三个服务端线程,分别在三个端口监听
# 服务端程序为阻塞方式,只能一次服务于一个客户端
def main():
    # Address handling is the one change for testability: the tutorial
    # listens on 127.0.0.1 ports 10000, 10001 and 10002; this takes the three
    # ports from the command line (default 0 0 0: any free ports), and binds
    # all three and prints their "listening on" lines before the first
    # "start listen at" line and the threads start, so those lines come first.
    if len(sys.argv) not in (1, 4):
        sys.exit('usage: seed002_poetry_server.py [PORT PORT PORT]')
    ports = [int(p) for p in sys.argv[1:]] or [0, 0, 0]
    listen_sockets = []
    for port in ports:
        listen_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listen_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        addres = ('127.0.0.1', port)
        listen_socket.bind(addres)
        listen_socket.listen(5)
        print('listening on tcp %s:%d' % listen_socket.getsockname(), flush=True)  # testability
        listen_sockets.append(listen_socket)
    for listen_socket in listen_sockets:
        print("start listen at: %d" % listen_socket.getsockname()[1], flush=True)  # testability: the bound port, not the one asked for
        worker = Thread(target = server, args = [listen_socket])
        worker.setDaemon(True)
        worker.start()

if __name__ == '__main__':
    main()
    while True:
        time.sleep(0.1) # 如果不sleep的话, CPU会被Python完全占用了
