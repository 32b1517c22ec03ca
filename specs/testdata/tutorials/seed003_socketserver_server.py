#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), 终级boss:socketserver库:
socketserver.ThreadingTCPServer, a thread per connection.

Wire: per connection, one recv(1024); if it returned data, sendall()
"Server received your message:" followed by the data decoded (no newline);
then the handler returns and socketserver closes the connection. An empty
recv() closes at once. So each connection gets exactly one answer.

Known bugs (kept, but one):
- the tutorial's handler has "break" outside any loop, a SyntaxError: the
  program does not start at all. It is replaced by "return", which is what
  it means (finish this connection);
- one recv() per connection: a second message is never answered, and a
  message split across segments is answered after its first part, the rest
  unread (the close then becomes a reset that can destroy the answer);
- data that is not UTF-8 (or a character cut by the 1024-byte read) raises
  UnicodeDecodeError: "Error handling client" and the connection is closed
  unanswered;
- the listening socket is not SO_REUSEADDR (TCPServer's default), so a
  restart on the same port fails while old connections are in TIME_WAIT.

usage: python3 seed003_socketserver_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socketserver
import sys
class MyTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        addr = self.client_address
        print(f"Accepted connection from {addr}", flush=True)
        try:
            data = self.request.recv(1024)
            if not data:
                return  # py3: was "break" outside a loop, a SyntaxError; return ends this connection's handler
            message = data.decode('utf-8')
            print(f"Received data from {addr}: {message}", flush=True)
            response = f"Server received your message:{message}"
            self.request.sendall(response.encode('utf-8'))
        except Exception as e:
            print(f"Error handling client {addr}: {e}", flush=True)
        finally:
            print(f"Closing connection from {addr}", flush=True)
if __name__ == "__main__":
    # Address handling is the one change for testability: the tutorial binds
    # ("localhost", 8089); this binds 127.0.0.1 and the port from the command
    # line (default 0: any free port), and prints "listening on tcp ...".
    HOST, PORT = "127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0
    # 创建多线程的 TCP 服务器
    server = socketserver.ThreadingTCPServer((HOST, PORT), MyTCPHandler)
    try:
        print('listening on tcp %s:%d' % server.server_address, flush=True)  # testability
        print(f"Server listening on {HOST}:{PORT}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("Server shutting down.", flush=True)
        server.shutdown()
