#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Echo server on python3-websockets (Debian 12: 10.4), a reference peer for wsconform.py.

Echoes every message as received (text as text, binary as binary). No compression, and a 64 MiB
message limit, so Autobahn's 16 MiB cases (9.1.6, 9.2.6) can pass. Prints "listening on
HOST:PORT" once ready (--port 0 picks a free port).

By default the echo is sent from the connection's reader task, right after each message is read
(--mode eager). The idiomatic handler loop (--mode handler: `async for m in ws: await
ws.send(m)`) loses the echo in Autobahn 7.1.1: when a message and a close frame arrive in one
segment, websockets' legacy reader answers the close before the handler task runs, and a send
after that raises ConnectionClosed. RFC 6455 5.5.1 allows that; Autobahn counts it as FAILED.
"""
import argparse
import asyncio
import sys

import websockets
from websockets.legacy.server import WebSocketServerProtocol


class EagerEchoProtocol(WebSocketServerProtocol):
    """Echo inside the reader task, so a message is answered before a close that follows it."""

    async def read_message(self):
        message = await super().read_message()
        if message is not None:
            await self.send(message)
        return message


async def drain(ws, path=None):
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:
        pass


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9001)
    ap.add_argument("--mode", choices=("eager", "handler"), default="eager")
    args = ap.parse_args()
    eager = args.mode == "eager"
    async with websockets.serve(drain if eager else echo, args.host, args.port,
                                create_protocol=EagerEchoProtocol if eager else None,
                                compression=None, max_size=64 * 2 ** 20, max_queue=None,
                                ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print("listening on %s:%d" % (args.host, port), flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
