"""1: framing. Text (1.1) and binary (1.2) messages at every payload-length
encoding boundary (RFC 6455 5.2: 7-bit up to 125, 16-bit 126..65535, 64-bit
from 65536), each echoed intact: sent in one write, in 997-byte writes, and
one byte per write (each in its own TCP segment)."""
from .. import wire
from ..harness import Case, exchange

FAMILY = "framing"

LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]


def payload(kind, n):
    if kind == "text":
        return b"*" * n
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def _echo(kind, n, chop):
    op = wire.TEXT if kind == "text" else wire.BINARY

    def run(t):
        p = payload(kind, n)
        return exchange(t, [wire.frame(op, p)], [(kind, p)], chop=chop, timeout=10.0)
    return run


def cases(target):
    out = []
    for sub, kind in ((1, "text"), (2, "binary")):
        i = 1
        for n in LENGTHS:
            out.append(Case(f"1.{sub}.{i}", f"{kind} {n} B, one write", _echo(kind, n, None)))
            i += 1
        out.append(Case(f"1.{sub}.{i}", f"{kind} 65536 B in 997-byte writes",
                        _echo(kind, 65536, 997)))
        i += 1
        for n in LENGTHS:
            out.append(Case(f"1.{sub}.{i}", f"{kind} {n} B, one byte per write",
                            _echo(kind, n, 1)))
            i += 1
    return out
