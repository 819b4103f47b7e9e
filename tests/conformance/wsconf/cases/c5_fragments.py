"""5: fragmentation (RFC 6455 5.4). Fragmented text and binary messages are
echoed whole; control frames may come between fragments and are answered
(in order) while the message goes on; a fragmented control frame, a
continuation with no message, and a new message inside a fragmented one
fail the connection with 1002. Each shape is sent in one write, one frame
per write, and (where Autobahn does) one byte per write."""
from .. import wire
from ..harness import Case, Fail, Pause, exchange

FAMILY = "fragmentation"

F = wire.frame
T, B, C, PING, PONG = wire.TEXT, wire.BINARY, wire.CONT, wire.PING, wire.PONG


def _send(frames, mode, **kw):
    """frames as one write, one per write (50 ms apart), or byte by byte."""
    def run(t):
        if mode == "one write":
            return exchange(t, [b"".join(frames)], **kw)
        if mode == "frame per write":
            writes = []
            for f in frames:
                writes += [f, Pause(0.05)]
            return exchange(t, writes[:-1], **kw)
        return exchange(t, [b"".join(frames)], chop=1, **kw)
    return run


MODES = ("one write", "frame per write", "byte per write")


def cases(target):
    two = [F(T, b"fragment1", fin=False), F(C, b"fragment2")]
    with_ping = [F(T, b"fragment1", fin=False), F(PING, b"ping payload"), F(C, b"fragment2")]
    cont_fin = [F(C, b"fragment1"), F(T, b"fragment2")]
    cont_nofin = [F(C, b"fragment1", fin=False), F(T, b"fragment2")]
    out = [
        Case("5.1", "ping in 2 fragments -> fail 1002",
             _send([F(PING, b"fragment1", fin=False), F(C, b"fragment2")], "one write",
                   outcome=Fail(1002))),
        Case("5.2", "pong in 2 fragments -> fail 1002",
             _send([F(PONG, b"fragment1", fin=False), F(C, b"fragment2")], "one write",
                   outcome=Fail(1002))),
    ]
    n = 3
    for mode in MODES:
        out.append(Case(f"5.{n}", f"text in 2 fragments, {mode} -> echo",
                        _send(two, mode, expect=[("text", b"fragment1fragment2")])))
        n += 1
    for mode in MODES:
        out.append(Case(f"5.{n}", f"text in 2 fragments, ping between, {mode} -> pong, echo",
                        _send(with_ping, mode, expect=[("text", b"fragment1fragment2")],
                              pongs=[b"ping payload"])))
        n += 1
    for frames, what in ((cont_fin, "FIN"), (cont_nofin, "no FIN")):
        for mode in MODES:
            out.append(Case(f"5.{n}", f"continuation ({what}) with no message, then text, "
                                      f"{mode} -> fail 1002",
                            _send(frames, mode, outcome=Fail(1002))))
            n += 1
    out += [
        Case("5.15", "text in 2 fragments, then continuation with nothing to continue "
                     "-> echo, fail 1002",
             _send(two + [F(C, b"fragment3", fin=False), F(T, b"fragment4")], "one write",
                   expect=[("text", b"fragment1fragment2")], outcome=Fail(1002))),
        Case("5.16", "2x (continuation no FIN, text no FIN, continuation FIN) -> fail 1002",
             _send([F(C, b"fragment1", fin=False), F(T, b"fragment2", fin=False),
                    F(C, b"fragment3")] * 2, "one write", outcome=Fail(1002))),
        Case("5.17", "2x (continuation FIN, text no FIN, continuation FIN) -> fail 1002",
             _send([F(C, b"fragment1"), F(T, b"fragment2", fin=False), F(C, b"fragment3")] * 2,
                   "one write", outcome=Fail(1002))),
        Case("5.18", "text no FIN, then a new text -> fail 1002",
             _send([F(T, b"fragment1", fin=False), F(T, b"fragment2")], "one write",
                   outcome=Fail(1002))),
    ]
    five = [F(T, b"fragment1", fin=False), F(C, b"fragment2", fin=False), F(PING, b"pongme 1!"),
            F(C, b"fragment3", fin=False), F(C, b"fragment4", fin=False),
            F(PING, b"pongme 2!"), F(C, b"fragment5")]
    whole = b"fragment1fragment2fragment3fragment4fragment5"
    out += [
        Case("5.19", "text in 5 fragments, 2 pings between, one write -> 2 pongs, echo",
             _send(five, "one write", expect=[("text", whole)],
                   pongs=[b"pongme 1!", b"pongme 2!"], pings_at_once=True)),
        Case("5.20", "text in 5 fragments, 2 pings between, one frame per write",
             _send(five, "frame per write", expect=[("text", whole)],
                   pongs=[b"pongme 1!", b"pongme 2!"])),
    ]
    payload = bytes(range(256)) * 4
    parts = [F(B, payload[:300], fin=False), F(C, payload[300:700], fin=False),
             F(C, payload[700:])]
    n = 21
    for mode in MODES:
        out.append(Case(f"5.{n}", f"binary in 3 fragments, {mode} -> echo",
                        _send(parts, mode, expect=[("binary", payload)])))
        n += 1
    out.append(Case("5.24", "binary in 3 fragments, pings between -> pongs, echo",
                    _send([parts[0], F(PING, b"a"), parts[1], F(PING, b"b"), parts[2]],
                          "frame per write", expect=[("binary", payload)],
                          pongs=[b"a", b"b"])))
    return out
