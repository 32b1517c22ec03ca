#!/usr/bin/env python3
"""Seed 000 (Python Socket网络编程), the select() server: one thread, a
select() loop, a queue of pending replies per connection: an echo server.

Wire: every recv(1024) that returns data is queued and sent back, one queued
chunk per writable event, with send() (not sendall). Nothing is added, no
greeting. An empty recv() (the client's half-close or close) closes the
connection at once.

Known bugs (kept):
- send() may write only part of a chunk; the rest is dropped, not retried;
- a connection whose echo is still queued when its EOF arrives is closed and
  its queue deleted in the readable pass, then looked up again in the
  writable pass of the same loop: KeyError, and the whole server dies. A
  client that sends and closes (or half-closes) without waiting for its echo
  can kill the server;
- recv() raising (ECONNRESET from a client that resets) is not caught: one
  reset kills the server too;
- the exceptional list is never filled (elist stays []), so its handler is
  dead code;
- it prints a line per event, "waiting for the next event" before each
  select().

usage: python3 seed000_select_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import socket
import select
import sys
import queue  # py3: the module Queue is called queue

# Address handling is the one change for testability: the tutorial binds
# ('localhost', 8888); this binds 127.0.0.1 and the port given on the command
# line (default 0: any free port), and prints "listening on tcp ...".
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0

# create a server socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setblocking(0)
server.bind(('127.0.0.1', PORT))
server.listen(5)
print('listening on tcp %s:%d' % server.getsockname(), flush=True)  # testability: the address a test connects to
# socketss ready for reading
rlist = [server]
# sockets ready for writing
wlist = []
# exception
elist =[]
# each connection needs a queue to act as a buffer for the data to be sent
# through it
message_queues = {}
# main loop
while rlist:
    # wait for at least one socket is ready
    print("waiting for the next event", flush=True)  # py3: print is a function
    readable, writable, exceptional = select.select(rlist, wlist, elist)
    # handle readable lists
    for sock in readable:
        # server socket: ready to accept another connection
        if sock == server:
            conn, addr = sock.accept()
            print("new connection from {addr}".format(addr = addr), flush=True)  # py3: print is a function
            conn.setblocking(0)
            # add new connection to rlist
            rlist.append(conn)
            # give the connection a queue for data to send
            message_queues[conn] = queue.Queue()  # py3: Queue.Queue is queue.Queue
        # established connection from client
        else:
            request_data = sock.recv(1024)
            if request_data:
                print("received {data} from {addr}".format(
                    data = request_data, addr = sock.getpeername()), flush=True)  # py3: print is a function
                message_queues[sock].put(request_data)
                # add to response
                if sock not in wlist:
                    wlist.append(sock)
            # without data should be closed
            else:
                print("closing {addr} after no reading data".format(addr = sock.getpeername()), flush=True)  # py3: print is a function
                if sock in wlist:
                    wlist.remove(sock)
                rlist.remove(sock)
                sock.close()
                del message_queues[sock]
    # handle writable lists
    for sock in writable:
        try:
            next_msg = message_queues[sock].get_nowait()
        except queue.Empty:  # py3: Queue.Empty is queue.Empty
            # no message to send
            print("output queue for {addr} is empty".format(addr = sock.getpeername()), flush=True)  # py3: print is a function
            wlist.remove(sock)
        else:
            print("sending {msg} to {addr}".format(msg = next_msg, addr = sock.getpeername()), flush=True)  # py3: print is a function
            sock.send(next_msg)
    # handle exceptional lists
    for sock in exceptional:
        print("handling exeptional condition for", sock.getpeername(), flush=True)  # py3: print is a function
        rlist.remove(sock)
        if sock in wlist:
            wlist.remove(sock)
        sock.close()
        del message_queues[sock]
