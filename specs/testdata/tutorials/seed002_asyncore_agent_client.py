#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Seed 002 (python异步socket编程之二), 4.2 示例1, asyncore_client.py: the
asyncore "agent" client. One thread runs asyncore.loop() on the connection;
another reads the user's lines from stdin and sends each.

Wire: connect (non-blocking); every line read from stdin is sent as typed,
without its newline, with one send() (the rest of a partial send is sent
by recursion, "send : ..." per piece, then "send all!!"). Everything
received (recv(4096)) is printed as "recv : DATA". "connect!!" is printed
on the first readable event, not when the connection is made, and
"disconnection : HOST" when the server closes.

Known bugs (kept):
- writable() is always False, so asyncore learns that the connect completed
  only when the server first sends something: handle_connect ("connect!!")
  comes late, and never against a server that only answers;
- a line typed before the non-blocking connect completes is dropped: send()
  fails with EWOULDBLOCK, which asyncore turns into 0, "send all!!";
- send() returning 0 (EWOULDBLOCK, a full send buffer) drops the rest of the
  line the same way;
- handle_write runs in the input thread while the loop thread uses the same
  dispatcher: nothing serialises them;
- the loop's exceptions are swallowed (except: pass);
- at EOF on stdin the input thread dies (EOFError); the process then lives
  until the server closes the connection.
It needs asyncore, which Python 3.12 removed: it runs on Python 3.11 and older.

usage: python3 seed002_asyncore_agent_client.py HOST PORT   (lines to send on stdin)
"""
#
# File: asyncore_client.py
#
import asyncore, socket
import sys
import threading
#收到data最大長度
MAX_RECV = 4096
#連線server的socket
class client(asyncore.dispatcher):
    def __init__(self, host, port):
        asyncore.dispatcher.__init__(self)
        self.SendData = b""  # py3: sockets send bytes
        self.RecvData = b""  # py3: recv() returns bytes
        #和server建立連線
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect( (host, port) )
    def handle_connect(self):
        print('connect!!', flush=True)  # py3: print is a function
    def handle_close(self):
        print("disconnection : " + self.socket.getpeername()[0], flush=True)  # py3: print is a function; Python 3 dispatchers no longer pass unknown attributes (getpeername) on to their socket
        self.close()
    #收到的data
    def handle_read(self):
        self.RecvData = self.recv(MAX_RECV)
        if len(self.RecvData) > 0:
            print("recv : " + self.RecvData.decode('utf-8', 'replace'), flush=True)  # py3: recv() returns bytes; str + bytes is a TypeError
    #送出data
    def handle_write(self):
        send_byte = self.send(self.SendData)
        if send_byte > 0:
            send_out = self.SendData[:send_byte]
            self.SendData = self.SendData[send_byte:]
            print("send : " + send_out.decode('utf-8', 'replace'), flush=True)  # py3: the data is bytes; str + bytes is a TypeError
            self.handle_write()
        else:
            print("send all!!", flush=True)  # py3: print is a function
            self.SendData = b""  # py3: sockets send bytes
    #自動偵測送出永遠失敗
    def writable(self):
        return False
#等待server傳送訊息的thread
class send_server_thread(threading.Thread):
    def __init__(self,host,port):
        self.client = client(host, port)
        threading.Thread.__init__ ( self )
    def run(self):
        try:
            asyncore.loop()
        except:
            pass
#等待user input的thread
class input_thread(threading.Thread):
    def __init__(self,client_thread):
        self.client_thread = client_thread
        threading.Thread.__init__ ( self )
    def run(self):
        while 1:
            send_data = input()  # py3: raw_input is input
            self.client_thread.client.SendData = send_data.encode('utf-8')  # py3: sockets send bytes
            self.client_thread.client.handle_write()
#主程式
if __name__ == "__main__":
    # Address handling is the one change for testability: the tutorial
    # connects to ("localhost", 111); this connects to HOST PORT from the
    # command line.
    if len(sys.argv) != 3:
        sys.exit('usage: seed002_asyncore_agent_client.py HOST PORT')
    #建立和server連線, 並且等待溝通
    client_thread = send_server_thread(sys.argv[1], int(sys.argv[2]))
    client_thread.start()
    #等待user input
    input_thread(client_thread).start()
