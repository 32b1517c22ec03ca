#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 优化后的服务器端代码: the
banner server with a thread pool (ThreadPoolExecutor, 5 workers).

Wire: accept; a pool worker send()s the UTF-8 bytes of "欢迎访问服务器!"
(no newline) and closes. It reads nothing.

Known bugs (kept):
- it closes without reading: a client that sent something first gets a
  reset (RST) instead of an orderly close, which can destroy the banner;
- send() is not sendall() (22 bytes always fit, so harmless here);
- the accept loop runs in the main thread and queues every connection in the
  executor's unbounded queue: nothing pushes back on a flood of clients.

usage: python3 seed003_banner_pool_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
# 服务器配置
# Address handling is the one change for testability: the tutorial binds
# ('localhost', 8089); this binds 127.0.0.1 and the port from the command line
# (default 0: any free port), and prints "listening on tcp 127.0.0.1:PORT".
HOST = '127.0.0.1'
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
MAX_WORKERS = 5 # 线程池最大线程数
def handle_client(client_socket, addr):
    """
    处理单个客户端连接的函数
    """
    try:
        message = '欢迎访问服务器!'
        client_socket.send(message.encode('utf-8'))
    except Exception as e:
        print(f"Error handling client {addr}: {e}", flush=True)
    finally:
        # 关闭连接
        print(f"Closing connection from {addr}", flush=True)
        client_socket.close()
def start_server():
    """
    启动服务器
    """
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.bind((HOST, PORT))
    server_socket.listen(5)
    print('listening on tcp %s:%d' % server_socket.getsockname(), flush=True)  # testability
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
if __name__ == "__main__":
    start_server()
