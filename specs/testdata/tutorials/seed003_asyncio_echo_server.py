#!/usr/bin/env python3
"""Seed 003 (Python socket编程: HTTP, UDP, TCP ...), asyncio 实现非阻塞IO: an
asyncio echo server (asyncio.start_server).

Wire: per connection, one reader.read(100); the bytes read are written back
(drained); then the handler returns without closing. So only the first read
(at most 100 bytes) of a connection is echoed; whatever comes after it is
never read or answered, and the connection stays open until the client
closes it.

Known bugs (kept):
- one read per connection: a second message on the same connection gets no
  answer; a first message over 100 bytes, or split across segments, is
  echoed only in part;
- the handler does not close the connection after its echo (no
  writer.close()): the transport and its protocol keep each other alive, so
  the connection stays open, unread, until the client closes it;
- it decodes what it read as UTF-8 to print it: bytes that are not UTF-8
  (any binary payload, or a character cut by the 100-byte read) raise
  UnicodeDecodeError before the echo, and asyncio closes the connection
  unanswered;
- on an empty read (EOF) it calls writer.close() and does not return: it
  goes on to print and write b'' on the closed writer.

usage: python3 seed003_asyncio_echo_server.py [PORT]   (default 0: any free port)
The first stdout line is "listening on tcp 127.0.0.1:PORT".
"""
import asyncio
import sys
async def handle_client(reader, writer):
    data = await reader.read(100)
    if not data:
        print("Closing the connection", flush=True)
        writer.close()
    message = data.decode()
    addr = writer.get_extra_info('peername')
    print(f"Received {message} from {addr}", flush=True)
    print("Send: %r" % message, flush=True)
    writer.write(data)
    await writer.drain()
async def main():
    # Address handling is the one change for testability: the tutorial
    # listens on 127.0.0.1:8089; this takes the port from the command line
    # (default 0: any free port) and prints "listening on tcp 127.0.0.1:PORT".
    server = await asyncio.start_server(
        handle_client, '127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    addr = server.sockets[0].getsockname()
    print('listening on tcp %s:%d' % addr, flush=True)  # testability
    print(f'Serving on {addr}', flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
