#!/usr/bin/python3
"""The reference testee: an echo server on Debian's python3-websockets
(websockets.serve, the asyncio server of the version bookworm ships),
configured like the conformance run against channels-server with raised
limits: no compression (the suite offers none anyway), no size limit the
suite reaches, no keepalive pings.

usage: echo_websockets.py PORT_FILE   (listens on 127.0.0.1, any free port)
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main(port_file):
    async with websockets.serve(echo, "127.0.0.1", 0, compression=None, max_size=64 << 20,
                                max_queue=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        with open(port_file, "w") as f:
            f.write(f"{port}\n")
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
