#!/usr/bin/env python3
"""Seed 000 (Python Socket网络编程), the poll() server: one thread, a poll()
loop, a queue of replies per connection, meant as an echo server.

Wire: it accepts, reads with recv(1024), queues what it read and switches the
connection to READ_WRITE; but no branch ever handles POLLOUT, so it never
sends anything: clients get no greeting and no reply, only the close after
their own close (empty recv or POLLHUP).

Known bugs (kept):
- the replies are queued and never sent (no POLLOUT handler);
- once a connection is READ_WRITE, poll() returns at once on every call (the
  socket is always writable), so the loop spins at 100% CPU, printing
  "waiting for the next event" without pause, until that client closes;
- the queues grow without bound, one entry per recv();
- fd_to_socket keeps closed sockets (a leak until the fd is reused);
- recv() raising (ECONNRESET) is not caught: one reset kills the server.

usage: python3 seed000_poll_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import select
import socket
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
# queuses for message to send
message_queues = {}
# eventmask is an optional bitmask describing the type of events you want to
# check for
READ_ONLY = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
READ_WRITE = READ_ONLY | select.POLLOUT
# Returns a polling object, which supports registering and unregistering file
# descriptors, and then polling them for I/O events
poller = select.poll()
# Register a file descriptor with the polling object
poller.register(server, READ_ONLY)
# map file desriptor to socket
fd_to_socket = {server.fileno(): server, }
# timeout pass to poll(), ms
TIMEOUT = 1000
# in the loop calls poll() and process returned events
while True:
    # wait for at least one socket be ready
    print("waiting for the next event", flush=True)  # py3: print is a function
    events = poller.poll(TIMEOUT)
    for fd, flag in events:
        # retrieve socket from fd
        s = fd_to_socket[fd]
        # handle read
        if flag & (select.POLLIN | select.POLLPRI):
            if s is server:
                # a readable server is ready to accept a connection
                conn, addr = s.accept()
                print("new connection from {addr}".format(addr = addr), flush=True)  # py3: print is a function
                conn.setblocking(0)
                fd_to_socket[conn.fileno()] = conn
                poller.register(conn, READ_ONLY)
                # give the connection a queue for sending messages
                message_queues[conn] = queue.Queue()  # py3: Queue.Queue is queue.Queue
            # otherwise receive data waiting to be read
            else:
                request_data = s.recv(1024)
                if request_data:
                    print("received {data} from {addr}".format(data = request_data, addr = s.getpeername()), flush=True)  # py3: print is a function
                    message_queues[s].put(request_data)
                    # add to writable for response
                    poller.modify(s, READ_WRITE)
                # get empty data means to close the connection
                else:
                    print("closing {addr} after reading no data".format(addr = s.getpeername()), flush=True)  # py3: print is a function
                    # stop listening for readable
                    poller.unregister(s)
                    s.close()
                    del message_queues[s]
        # a client hang up the connection
        elif flag & select.POLLHUP:
            print("closing {addr} after receiving HUP".format(addr = s.getpeername()), flush=True)  # py3: print is a function
            # stop listening for readable
            poller.unregister(s)
            s.close()
            del message_queues[s]
        # any event with POLLERR cause to close the socket
        elif flag & select.POLLERR:
            print("handling exception for {addr}".format(addr = s.getpeername()), flush=True)  # py3: print is a function
            poller.unregister(s)
            s.close()
            del message_queues[s]
