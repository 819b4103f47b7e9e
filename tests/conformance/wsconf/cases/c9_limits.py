"""9: limits and performance-sized messages. Text (9.1) and binary (9.2)
messages of 64 KiB to 16 MiB, whole, and fragmented (9.3 text, 9.4 binary)
in 64- to 65536-byte fragments; 1000 messages back to back (9.7 text, 9.8
binary). Each is echoed back intact; the detail column gives the
throughput. Over the target's limits the documented outcome is expected
instead: a message over its size limit fails 1009 ("Message Too Big",
RFC 6455 7.4.1), more messages than its rate limit allows fail 1008
("Policy Violation"), after any prefix of the echoes.

Text payloads mix 1- and 2-byte code points, so fragments of these sizes
split code points across fragments."""
import functools
import time

from .. import wire
from ..harness import OK, Case, Fail, exchange

FAMILY = "limits"

KiB, MiB = 1024, 1024 * 1024
SIZES = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB]
FRAGS = [64, 256, 1024, 4096, 65536]
COUNTS = [0, 16, 64, 256, 1024, 4096]


@functools.lru_cache(maxsize=4)
def payload(kind, n):
    if kind == "binary":
        return (bytes(range(256)) * (n // 256 + 1))[:n]
    unit = "Hello-µ@ßöäü-0123456789-".encode()
    p = (unit * (n // len(unit) + 1))[:n]
    cut = len(p.decode("utf-8", "ignore").encode())  # drop a cut code point
    return p[:cut] + b"x" * (n - cut)


def _size(n):
    return f"{n // MiB} MiB" if n >= MiB else f"{n // KiB} KiB"


def _big(kind, n, frag):
    op = wire.TEXT if kind == "text" else wire.BINARY

    def run(t):
        p = payload(kind, n)
        data = wire.frame(op, p) if frag is None else wire.fragments(op, p, frag)
        timeout = 10.0 + n / (2 * MiB)
        if t.too_big(n):
            r = exchange(t, [data], outcome=Fail(1009), timeout=timeout)
            if r.verdict == OK:
                r.detail = f"1009: over the target's {_size(t.max_message)} limit"
            return r
        t0 = time.monotonic()
        r = exchange(t, [data], [(kind, p)], timeout=timeout)
        if r.verdict == OK:
            r.detail = f"{2 * n / MiB / (time.monotonic() - t0):.0f} MiB/s both ways"
        return r
    return run


def _many(kind, size, count=1000):
    op = wire.TEXT if kind == "text" else wire.BINARY

    def run(t):
        p = payload(kind, size)
        data = b"".join(wire.frame(op, p) for _ in range(count))
        expect = [(kind, p)] * count
        if t.rate and count > t.burst:
            r = exchange(t, [data], expect, outcome=Fail(1008, prefix=True))
            if r.verdict == OK:
                r.detail = f"1008: over the target's {t.rate:g} messages/s, burst {t.burst}"
            return r
        t0 = time.monotonic()
        r = exchange(t, [data], expect, timeout=20.0)
        if r.verdict == OK:
            r.detail = f"{count / (time.monotonic() - t0):.0f} msgs/s echoed"
        return r
    return run


def cases(target):
    sizes = SIZES[:4] if target.quick else SIZES
    out = []
    for sub, kind in ((1, "text"), (2, "binary")):
        for i, n in enumerate(sizes, 1):
            out.append(Case(f"9.{sub}.{i}", f"{kind} {_size(n)}, one frame", _big(kind, n, None)))
    for sub, kind in ((3, "text"), (4, "binary")):
        i = 1
        for n in sizes:
            for f in FRAGS:
                if target.quick and n >= 4 * MiB and f < 1024:
                    continue
                out.append(Case(f"9.{sub}.{i}", f"{kind} {_size(n)} in {f}-byte fragments",
                                _big(kind, n, f)))
                i += 1
    for sub, kind in ((7, "text"), (8, "binary")):
        for i, size in enumerate(COUNTS, 1):
            out.append(Case(f"9.{sub}.{i}", f"1000 {kind} messages of {size} B in one write",
                            _many(kind, size)))
    return out
