#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An independent WebSocket client (python3-websockets) for kws tests and the
demo: sends text and binary messages, checks the echoes, sends pings and
waits for their pongs, then closes.

    wsclient.py URL [--pings N] [--big BYTES] [--quiet]

Prints the conversation ("> sent", "< received") and exits 0 when every echo
matched and every ping got its pong.
"""
import argparse
import asyncio
import os
import sys

import websockets


def show(arrow, msg, quiet):
    if quiet:
        return
    if isinstance(msg, bytes):
        text = msg[:16].hex() + ("..." if len(msg) > 16 else "")
        print(f"  {arrow} binary {len(msg)} bytes: {text}", flush=True)
    else:
        shown = msg if len(msg) <= 60 else msg[:57] + "..."
        print(f"  {arrow} text {len(msg)} bytes: {shown!r}", flush=True)


async def run(args):
    messages = ["hello from python-websockets", "", "héllo wörld ✓",
                bytes(range(256))]
    if args.big:
        messages.append(os.urandom(args.big))
    async with websockets.connect(args.url, max_size=None,
                                  ping_interval=None) as ws:
        for msg in messages:
            await ws.send(msg)
            show(">", msg, args.quiet)
            echo = await ws.recv()
            show("<", echo, args.quiet)
            if echo != msg:
                print("  echo differs from what was sent", file=sys.stderr)
                return 1
        for i in range(args.pings):
            waiter = await ws.ping(f"ping {i}".encode())
            await asyncio.wait_for(waiter, 10)
            if not args.quiet:
                print(f"  > ping {i} ... < pong", flush=True)
        await ws.close()
        if not args.quiet:
            print(f"  closed: {ws.close_code}", flush=True)
        return 0 if ws.close_code == 1000 else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--pings", type=int, default=0)
    ap.add_argument("--big", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    try:
        return asyncio.run(run(args))
    except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as e:
        print(f"wsclient: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
