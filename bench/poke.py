#!/usr/bin/python3
"""Tiny hand check of a benchmark peer: N clients in one room, each sends one
message; every client must receive every message (the sender included).

usage: /usr/bin/python3 bench/poke.py PORT [PATH] [CLIENTS]
Needs python3-websockets (Debian's /usr/bin/python3). Exits 0 when all arrived.
"""
import asyncio
import json
import sys

import websockets


async def main():
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "/ws/chat/poke/"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    url = "ws://127.0.0.1:%d%s" % (port, path)
    conns = [await websockets.connect(url, origin="http://127.0.0.1:%d" % port)
             for _ in range(n)]
    await asyncio.sleep(0.2)
    for i, c in enumerate(conns):
        await c.send(json.dumps({"message": "hello %d" % i}))
    ok = True
    for i, c in enumerate(conns):
        got = []
        for _ in range(n):
            got.append(json.loads(await asyncio.wait_for(c.recv(), 5)))
        msgs = sorted(g["message"] for g in got)
        want = sorted("hello %d" % j for j in range(n))
        print("client %d got %s" % (i, got[:2]), "..." if n > 2 else "")
        if msgs != want or not all("username" in g for g in got):
            print("MISMATCH: got %s want %s" % (msgs, want))
            ok = False
    for c in conns:
        await c.close()
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


sys.exit(asyncio.run(main()))
