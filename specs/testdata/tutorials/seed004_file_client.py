#!/usr/bin/env python3
# Author:chen
#_-_coding:utf-8_-_
"""Seed 004 (第八章 Socket语法及相关, SocketServer实现多并发), the interactive
file client: get and put of files in its current directory.

Wire, per command read from stdin (prompt "please input your muan:"):
  put NAME  -> if ./NAME exists: send "put>NAME>SIZE"; one recv(1024); if
               the answer contains "ok", send the file 1024 bytes at a time
               with send(). Nothing is read after the upload.
  get NAME  -> send "get>NAME>2"; one recv(1024); if the answer contains
               "yes", open ./NAME for writing, parse SIZE after the ":", send
               "ok", then recv() until SIZE bytes are written.
  help      -> meant to print the command table (see the bugs).
  0         -> nothing.  Any other word -> "命令不存在,请重新输入" and the table.
No message has a newline. It loops on input() for ever: EOF on stdin ends it
with EOFError.

Known bugs (kept):
- "cd" and "exit" are in the command table but have no method: typing
  either kills the client with AttributeError (so "exit" does exit, by a
  traceback);
- "help" calls help(user_input) but help() takes no argument: TypeError
  kills the client (the table is printed only after an unknown command);
- an empty line kills it with IndexError;
- get of a missing file: the tutorial's server answers nothing, so the
  client waits in recv() for ever; a "no..." refusal prints "+++++";
- get truncates ./NAME before the download: getting the file just uploaded
  overwrites the local copy;
- get when the server closes mid-download: recv() returns b'' for ever and
  the client spins at 100% CPU;
- put and get take any answer containing "ok" or "yes" for a yes, and put
  sends with send(), not sendall(): a partial send loses bytes;
- the upload's bytes and the next command follow each other without waiting:
  against the tutorial's server (recv(1024) not bounded by the bytes due) the
  next command can end up inside the uploaded file.
Note that the tutorial's server dispatches on the file name: with it only
"get get_file" and "put put_file" do anything.

usage: python3 seed004_file_client.py HOST PORT   (commands on stdin)
"""
import socket,os
import sys
class Myclient(object):
    user_dict={
        'help':'help',
        'get':'get_file',
        'put':'put_file',
        'cd':'cd',
        'exit':'exit'
    }
    def __init__(self,host,port):
        self.sock=socket.socket()
        self.sock.connect((host,port))
        self.flag=False
        #if self.auth():
        self.userinput()

    def userinput(self):
        while True:
            u_input=input('please input your muan:')
            if u_input=='0':continue
            user_input=u_input.split()
            user_Type=u_input.split()[0]
            print("客户端的请求是:",user_Type, flush=True)
            if user_Type in self.user_dict:
                func=getattr(self,self.user_dict[user_Type])
                func(user_input)
            else:
                print("命令不存在,请重新输入", flush=True)
                self.help()
    def help(self):
        print(self.user_dict, flush=True)
    def put_file(self,u):
        if len(u)==2:
            if os.path.isfile(u[1]):
                file_size=os.path.getsize(u[1])
                msg='put>%s>%s' % (u[1],file_size)
                self.sock.send(msg.encode())
                res_back=str(self.sock.recv(1024).decode())
                print("res_back:",res_back, flush=True)
                if "ok" in res_back:
                    f = open(u[1],'rb')
                    send_size=0
                    while not send_size==file_size:
                        if file_size-send_size<=1024:
                            data=f.read(file_size-send_size)
                            send_size+=file_size-send_size
                        else:
                            data=f.read(1024)
                            send_size+=1024
                        self.sock.send(data)
                    else:
                        print('文件上传完成', flush=True)
                        f.close()
            else:
                print('文件不存在', flush=True)
    def get_file(self,u):
        if len(u)==2:
            msg="get>%s>2"%u[1]
            self.sock.send(msg.encode())
            res_back=self.sock.recv(1024).decode()
            print(res_back, flush=True)
            if 'yes'in res_back:
                f=open(u[1],'wb')
                file_size=int(res_back.split(':')[1])
                self.sock.send(b'ok')
                size_revc=0
                while not size_revc==file_size:
                    data=self.sock.recv(file_size-size_revc)
                    size_revc+=len(data)
                    f.write(data)
                else:
                    print('下载完成', flush=True)
                    f.close()
            else:
                print('+++++', flush=True)
if __name__=="__main__":
    # Address handling is the one change for testability: the tutorial
    # connects to ('localhost', 9999); this connects to HOST PORT from the
    # command line.
    if len(sys.argv) != 3:
        sys.exit('usage: seed004_file_client.py HOST PORT')
    c=Myclient(sys.argv[1],int(sys.argv[2]))
