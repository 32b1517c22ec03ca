#!/usr/bin/env python3
# Author:chen
#_-_coding:utf-8_-_
"""Seed 004 (第八章 Socket语法及相关, SocketServer实现多并发), the file server:
socketserver.ThreadingTCPServer, a thread per connection, get and put of
files in its current directory.

Wire (as the tutorial meant it; see the first bug for what it really does):
  get>NAME>...   -> "yes:SIZE" (no newline); then the client's "ok" (any
                    other message cancels silently); then SIZE bytes, sent
                    1024 at a time with send(). A missing file: nothing at
                    all is sent (only "不予下载" is printed).
  put>NAME>SIZE  -> "ok"; then SIZE bytes read with recv(1024) into NAME, or
                    NAME.new if NAME exists.
One recv(1024) is one command.

Known bugs (kept):
- it dispatches on msg_n[1], the file NAME, not on the command msg_n[0]: a
  command runs only when the file is named after a method of the handler.
  So only a file called get_file can be downloaded and only a file called
  put_file uploaded, whatever the command word: "put>get_file>9" runs a
  download and "get>put_file>2" an upload of 2 bytes. Any other name is
  ignored without an answer (the client then waits forever), and a name
  that is another attribute of the handler ("handle", "request", "flag",
  "setup", ...) raises TypeError and drops the connection;
- a command without ">" raises IndexError, and one that is not UTF-8 raises
  UnicodeDecodeError: either drops the connection;
- get of a missing file sends nothing: the client waits forever;
- put reads with recv(1024), not bounded by the bytes still due: if the
  client's next command arrives in the same read as the end of the upload,
  it is written into the file and the byte count overshoots SIZE, so the
  loop ("while not recv_size==file_size") never ends: the connection hangs;
- put when the client goes away mid-upload: recv() returns b'' for ever and
  the handler thread spins at 100% CPU, the partial file left in place;
- put writes in place: an interrupted upload leaves a partial file;
- get sends with send(), not sendall(): a partial send loses bytes;
- it binds 0.0.0.0 (every interface) in the tutorial.

usage: python3 seed004_file_server.py [PORT]   (default 0: any free port)
It serves files from its current directory. The first stdout line is
"listening on tcp 127.0.0.1:PORT".
"""
import socketserver
import os
import sys

class MyTCPHandler(socketserver.BaseRequestHandler):
    flag=False
    def handle(self):
        while not self.flag:
            msg=self.request.recv(1024)#接收客户端请求
            #print(type(msg))
            if not msg:
                break
            msg_n=msg.decode().split('>')
            msg_type=msg_n[1]
            if hasattr(self,msg_type):
                func=getattr(self,msg_type)
                func(msg_n)
    def get_file(self,msg): #回应客户端下载
        file_name= msg[1]
        if os.path.isfile(file_name):
            file_size=os.path.getsize(file_name)
            #print('file_size',type(file_size))
            send_msg='yes:%s'%(file_size)
            self.request.send(send_msg.encode())
            client_recv=self.request.recv(1024).decode()
            if client_recv=='ok':
                f=open(file_name,'rb')
                send_size=0
                print('send_size', type(send_size), flush=True)
                while not send_size==file_size:
                    if file_size-send_size<=1024:
                        self.request.send(f.read(file_size-send_size))
                        send_size+=file_size-send_size
                    else:
                        self.request.send(f.read(1024))
                        send_size+=1024
                else:
                    print("为文件下载传输完成", flush=True)
                    f.close()
        else:
            print('不予下载', flush=True)
    def put_file(self,msg): #回应客户端上传
        #client_res = self.request.recv(1024)
        file_name,file_size=msg[1],int(msg[2])
        if os.path.isfile(file_name):
            f=open('%s.new' %(file_name),'wb')
        else:
            f=open(file_name,'wb')
        self.request.send(b'ok')#发送给客户端
        recv_size=0
        while not recv_size==file_size:
            data=self.request.recv(1024)
            #print('data:',data)
            recv_size+=len(data)
            f.write(data)
        else:
            print("文件上传完成", flush=True)
            f.close()
if __name__=="__main__":
    # Address handling is the one change for testability: the tutorial binds
    # 0.0.0.0:9999; this binds 127.0.0.1 and the port from the command line
    # (default 0: any free port), and prints "listening on tcp ...".
    HOST,PORT='127.0.0.1',int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server=socketserver.ThreadingTCPServer((HOST,PORT),MyTCPHandler)
    print('listening on tcp %s:%d' % server.server_address, flush=True)  # testability
    server.serve_forever()
