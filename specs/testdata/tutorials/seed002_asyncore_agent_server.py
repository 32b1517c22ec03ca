#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Seed 002 (python异步socket编程之二), 4.2 示例1, asyncore_server.py: the
asyncore "agent" server. One thread runs asyncore.loop(); another reads the
operator's lines from stdin and sends each to the last client that
connected.

Wire: it sends nothing on its own (no greeting, no reply). It reads with
recv(4096) and prints "recv : DATA". Each line typed on its stdin is sent, as
typed, without its newline, to the most recently accepted client; an empty
recv() (the client's close) closes that connection.

Known bugs (kept):
- only the last accepted client can be written to (clientSocket is
  overwritten on every accept); earlier clients are still read from;
- a line typed before any client has connected kills the input thread
  (AttributeError on None): nothing typed afterwards is ever sent;
- handle_write is called from the input thread while the loop thread uses
  the same dispatcher: nothing serialises them;
- send() returning 0 (EWOULDBLOCK) drops the rest of the line ("send all!!"):
  a slow reader loses data;
- writable() is always False, so asyncore never calls handle_write itself;
- the tutorial's port 111 needs root; the listening socket is bound to '' (all
  interfaces).
It needs asyncore, which Python 3.12 removed: it runs on Python 3.11 and older.
At EOF on stdin the input thread dies (EOFError) and the server keeps serving.

usage: python3 seed002_asyncore_agent_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
#
# File: asyncore_server.py
#
import socket
import asyncore
import sys
import threading

MAX_RECV = 4096
#負責接受client socket連線
class AgentServer(asyncore.dispatcher):
    def __init__(self, port):
        #asyncore.dispatcher的constructor
        asyncore.dispatcher.__init__(self)
        #client socket
        self.clientSocket = None
        #server port
        self.port = port
        #建立等待的socket
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.bind(('127.0.0.1', self.port))  # testability: was ('', self.port), every interface
        self.listen(5)
    def handle_accept(self):
        #接受client socket的連線
        self.clientSocket, address = self.accept()
        print('New client from : ' + address[0], flush=True)  # py3: print is a function
        #將和client連線的socket加上一些功能 (自訂socket)
        self.clientSocket = ClientAgent(self.clientSocket)
#自訂的client連線socket
class ClientAgent(asyncore.dispatcher):
    def __init__(self, socket):
        asyncore.dispatcher.__init__(self, socket)
        #要送出的data
        self.SendData = b""  # py3: sockets send bytes
    #從client收到的data
    def handle_read(self):
        self.RecvData = self.recv(MAX_RECV)
        if len(self.RecvData) > 0:
            print("recv : " + self.RecvData.decode('utf-8', 'replace'), flush=True)  # py3: recv() returns bytes; str + bytes is a TypeError
    #送出data到client
    def handle_write(self):
        send_byte = self.send(self.SendData)
        #一次可能不會全部送完(一次最多送出512 bytes ?)
        if send_byte > 0:
            send_out = self.SendData[:send_byte]
            self.SendData = self.SendData[send_byte:]
            self.handle_write()
        else:
            print("send all!!", flush=True)  # py3: print is a function
            self.SendData = b""  # py3: sockets send bytes
    #不自動執行handle_write
    def writable(self):
        return False
    def handle_close(self):
        print("close connection : " + self.socket.getpeername()[0], flush=True)  # py3: print is a function; Python 3 dispatchers no longer pass unknown attributes (getpeername) on to their socket
        self.close()
#產生等待client連線的thread
class listen_client_thread(threading.Thread):
    def __init__(self,port):
        self.agentServer = AgentServer(port)
        threading.Thread.__init__ ( self )
    def run(self):
        print("Listen Client ...", flush=True)  # py3: print is a function
        asyncore.loop()
#產生處理輸入的thread
class input_thread(threading.Thread):
    def __init__(self,listen_thread):
        self.listen_thread = listen_thread
        threading.Thread.__init__ ( self )
    def run(self):
        while 1:
            send_data = input()  # py3: raw_input is input
            self.listen_thread.agentServer.clientSocket.SendData = send_data.encode('utf-8')  # py3: sockets send bytes
            self.listen_thread.agentServer.clientSocket.handle_write()
if __name__ == "__main__":
    #產生等待client連線的thread
    # Address handling is the one change for testability: the tutorial
    # listens on port 111 of every interface; this listens on 127.0.0.1 and
    # the port from the command line (default 0: any free port), and prints
    # "listening on tcp 127.0.0.1:PORT" before the threads start.
    listen_thread = listen_client_thread(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print('listening on tcp %s:%d' % listen_thread.agentServer.socket.getsockname(), flush=True)  # testability
    listen_thread.start()
    #產生處理輸入的thread
    input_thread(listen_thread).start()
