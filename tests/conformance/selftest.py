#!/usr/bin/python3
"""The suite's own framing checked against a plain reading of RFC 6455 5.2
(byte by byte, no tricks): frame() and its masking, and fragments(), whose
fast path builds many equal fragments column by column. Exit 0 when all
hold, 1 otherwise."""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsconf import wire  # noqa: E402


def parse(data):
    """[(fin, rsv, opcode, payload)] of masked client frames, by the RFC."""
    out, pos = [], 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert b1 & 0x80, "client frame not masked"
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(data[pos:pos + 2], "big"), pos + 2
            assert n > 125, "16-bit length for a short payload"
        elif n == 127:
            n, pos = int.from_bytes(data[pos:pos + 8], "big"), pos + 8
            assert n > 0xFFFF, "64-bit length for a short payload"
        key, pos = data[pos:pos + 4], pos + 4
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos:pos + n]))
        assert len(payload) == n, "truncated frame"
        pos += n
        out.append((bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload))
    return out


def main():
    failures = 0
    for n in (0, 1, 3, 4, 63, 64, 125, 126, 127, 65535, 65536, 70001):
        p = os.urandom(n)
        for op, fin, rsv in ((wire.TEXT, True, 0), (wire.BINARY, False, 5), (wire.PING, True, 0)):
            got = parse(wire.frame(op, p, fin=fin, rsv=rsv))
            if got != [(fin, rsv, op, p)]:
                print(f"FAIL: frame(op {op}, {n} B, fin {fin}, rsv {rsv})")
                failures += 1
    for n, size in ((1000, 64), (4096, 256), (65536, 1024), (65536, 4096), (300, 7), (100, 64),
                    (1 << 20, 64), (12, 4), (8, 4), (257, 256), (10, 1)):
        p = os.urandom(n)
        frames = parse(wire.fragments(wire.BINARY, p, size))
        ok = (b"".join(f[3] for f in frames) == p and
              all(len(f[3]) <= size for f in frames) and
              [f[2] for f in frames] == [wire.BINARY] + [wire.CONT] * (len(frames) - 1) and
              [f[0] for f in frames] == [False] * (len(frames) - 1) + [True] and
              all(f[1] == 0 for f in frames))
        if not ok:
            print(f"FAIL: fragments({n} B, {size}-byte fragments)")
            failures += 1
    keys = {wire.fragments(wire.TEXT, b"x" * 4096, 64)[i * 70 + 2:i * 70 + 6] for i in range(64)}
    if len(keys) < 60:
        print(f"FAIL: fragments share mask keys ({len(keys)} distinct of 64)")
        failures += 1
    print(f"selftest: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
