#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 长连接 服务器端代码: the
long-connection server, a thread pool (ThreadPoolExecutor, 5 workers), one
worker per connection for the connection's whole life.

Wire: no greeting. Each recv(1024) that returns data is answered with one
send() of "Server received your message." (no newline); an empty recv()
closes the connection.

Known bugs (kept):
- one recv() is one message: two messages in one segment get one answer, a
  message split across segments gets two;
- a connection holds its worker until it closes: with 5 idle clients
  connected, a sixth is accepted but never answered until one of them leaves;
- recv() data is decoded to print it: bytes that are not UTF-8, or a
  character split across two reads, raise UnicodeDecodeError, and the
  connection is closed without an answer ("Error handling client");
- send() is not sendall() (the 29-byte answer always fits, so harmless);
- the listening socket is closed only on KeyboardInterrupt.

usage: python3 seed003_ack_pool_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
MAX_WORKERS = 5 # 线程池最大线程数
def start_server():
    # 创建一个 TCP/IP socket
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # 绑定到特定地址和端口
    # Address handling is the one change for testability: the tutorial binds
    # ('localhost', 8089); this binds 127.0.0.1 and the port from the command
    # line (default 0: any free port), and prints "listening on tcp ...".
    server_address = ('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    server_socket.bind(server_address)
    # 开始监听连接
    server_socket.listen(5)
    print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability
    print(f"Server listening on {server_address}", flush=True)
    # 创建线程池
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        try:
            while True:
                client_socket, addr = server_socket.accept()
                print(f"Accepted connection from {addr}", flush=True)
                # 使用线程池处理客户端连接
                executor.submit(handle_client, client_socket, addr)
        except KeyboardInterrupt:
            print("Server shutting down.", flush=True)
        finally:
            # 关闭服务器套接字
            server_socket.close()
def handle_client(client_socket, client_address):
    try:
        while True:
            data = client_socket.recv(1024)
            if not data:
                break # 连接关闭时退出循环
            # 处理接收到的数据
            message = data.decode('utf-8')
            print(f"Received data from {client_address}: {message}", flush=True)
            # 这里可以根据需要处理数据,并回复客户端
            response = "Server received your message."
            client_socket.send(response.encode('utf-8'))
    except Exception as e:
        print(f"Error handling client {client_address}: {e}", flush=True)
    finally:
        # 关闭连接
        print(f"Closing connection from {client_address}", flush=True)
        client_socket.close()
if __name__ == "__main__":
    start_server()
