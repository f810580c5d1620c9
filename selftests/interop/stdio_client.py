#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Stand-in for the kwscat client (python3-websockets), so run.sh is proven before kwscat exists.

Same contract as `kwscat URL` / `kwscat --binary --chunk N URL`: text mode sends each stdin line
as a text message and prints each message received on its own line; binary mode sends stdin in
messages of --chunk bytes and writes what comes back unseparated. Closes with 1000 once every
message has been answered; exit status 0 only after a clean 1000 close.
"""
import argparse
import asyncio
import sys

import websockets


async def main(args):
    if args.binary:
        data = sys.stdin.buffer.read()
        out = [data[i:i + args.chunk] for i in range(0, len(data), args.chunk)]
    else:
        out = sys.stdin.buffer.read().decode("utf-8").splitlines()
    async with websockets.connect(args.url, compression=None, max_size=None,
                                  ping_interval=None) as ws:
        async def sender():
            for m in out:
                await ws.send(m)
        task = asyncio.ensure_future(sender())
        for _ in out:
            m = await ws.recv()
            if isinstance(m, str):
                sys.stdout.buffer.write(m.encode("utf-8") + b"\n")
            else:
                sys.stdout.buffer.write(m)
        await task
        await ws.close(1000)
        return 0 if ws.close_code == 1000 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", "--binary", action="store_true")
    ap.add_argument("-c", "--chunk", type=int, default=65536)
    ap.add_argument("-k", "--kernel", action="store_true", help="ignored (no kernel here)")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("url")
    sys.exit(asyncio.run(main(ap.parse_args())))
