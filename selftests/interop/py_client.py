#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""python3-websockets (10.4) client against an echo server: prints TAP, exits 1 on failure.

The checks (the same in node_client.js and lws_client.c): echo of text and binary messages at
the length-encoding edges (0, 125, 126, 65535, 65536) and of 1 MiB, multi-byte UTF-8 text, 100
pipelined messages in order, a ping answered by a pong with the same payload, and a clean close
where the server answers 1000 with 1000.
"""
import asyncio
import os
import sys

import websockets

TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "30"))
results = []


def tap(ok, name, why=""):
    results.append(ok)
    print("%s %d %s%s" % ("ok" if ok else "not ok", len(results), name,
                          "" if ok or not why else " # " + why), flush=True)


async def echo(ws, message):
    await ws.send(message)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    return got == message, "got %d %s" % (len(got), type(got).__name__)


async def main(url, prefix):
    async with websockets.connect(url, compression=None, max_size=64 * 2 ** 20,
                                  ping_interval=None, open_timeout=TIMEOUT,
                                  close_timeout=TIMEOUT) as ws:
        tap(True, prefix + "handshake")
        for n in (0, 125, 126, 65535, 65536, 2 ** 20):
            ok, why = await echo(ws, "*" * n)
            tap(ok, prefix + "text_%d" % n, why)
            ok, why = await echo(ws, os.urandom(n))
            tap(ok, prefix + "binary_%d" % n, why)
        ok, why = await echo(ws, "κόσμε \U0001f600 " * 1000)
        tap(ok, prefix + "text_utf8_multibyte", why)
        sent = ["message %d" % i for i in range(100)]
        for m in sent:
            await ws.send(m)
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in sent]
        tap(got == sent, prefix + "pipelined_100_in_order")
        try:
            waiter = await ws.ping(b"interop ping")
            await asyncio.wait_for(waiter, TIMEOUT)
            tap(True, prefix + "ping_pong")
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            tap(False, prefix + "ping_pong", repr(e))
        await ws.close(1000)
        tap(ws.close_code == 1000, prefix + "close_1000", "server sent %s" % ws.close_code)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: py_client.py ws://HOST:PORT/ [TAP-NAME-PREFIX]")
    pfx = sys.argv[2] if len(sys.argv) > 2 else "python_client."
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1], pfx), 10 * TIMEOUT))
    except Exception as e:  # noqa: BLE001
        tap(False, pfx + "session", repr(e))
    sys.exit(0 if results and all(results) else 1)
