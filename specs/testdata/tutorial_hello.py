#!/usr/bin/env python3
"""The threaded hello server of seed 001_f0ca91017b02340a.txt, ported to
Python 3 as printed: Welcome!, Hello, NAME! per recv(), exit closes.

Its bugs are the tutorial's and are kept on purpose (socklab's conformance
suite finds them): one recv() is taken as one message, there is no newline
framing, and every message costs time.sleep(1).

usage: python3 tutorial_hello.py [PORT]   (default 0: any free port)
It prints the port it listens on, on its first line.
"""
import socket
import sys
import threading
import time


def tcplink(sock, addr):
    print('Accept new connection from %s:%s...' % addr, flush=True)
    sock.send(b'Welcome!')
    while True:
        data = sock.recv(1024)
        time.sleep(1)
        if data == b'exit' or not data:
            break
        sock.send(b'Hello, %s!' % data)
    sock.close()
    print('Connection from %s:%s closed.' % addr, flush=True)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', port))
    s.listen(5)
    print(s.getsockname()[1], flush=True)
    while True:
        sock, addr = s.accept()
        t = threading.Thread(target=tcplink, args=(sock, addr), daemon=True)
        t.start()


if __name__ == '__main__':
    main()
