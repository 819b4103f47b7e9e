"""3: reserved bits. No extension is negotiated, so a frame with RSV1, RSV2
or RSV3 set fails the connection with 1002 (RFC 6455 5.2), also after a
valid message (which is echoed first) and before a ping (which must then
get no pong)."""
from .. import wire
from ..harness import Case, Fail, Pause, exchange

FAMILY = "reserved bits"

HELLO = b"Hello, world!"


def _after_text(rsv, op=wire.TEXT, mode="one write"):
    def run(t):
        frames = [wire.frame(wire.TEXT, HELLO), wire.frame(op, HELLO, rsv=rsv),
                  wire.frame(wire.PING)]
        if mode == "one write":
            writes, chop = [b"".join(frames)], None
        elif mode == "frame per write":
            writes, chop = [frames[0], Pause(0.05), frames[1], Pause(0.05), frames[2]], None
        else:
            writes, chop = [b"".join(frames)], 1
        return exchange(t, writes, [("text", HELLO)], outcome=Fail(1002), chop=chop)
    return run


def _alone(rsv, f):
    return lambda t: exchange(t, [f(rsv)], outcome=Fail(1002))


def cases(target):
    return [
        Case("3.1", "text with RSV1 -> fail 1002",
             _alone(1, lambda r: wire.frame(wire.TEXT, HELLO, rsv=r))),
        Case("3.2", "text, text with RSV2, ping (one write) -> echo, fail 1002, no pong",
             _after_text(2)),
        Case("3.3", "text, text with RSV3, ping (one frame per write)",
             _after_text(3, mode="frame per write")),
        Case("3.4", "text, text with RSV4, ping (one byte per write)",
             _after_text(4, mode="byte per write")),
        Case("3.5", "binary with RSV5 -> fail 1002",
             _alone(5, lambda r: wire.frame(wire.BINARY, bytes(range(8)), rsv=r))),
        Case("3.6", "ping with RSV6 -> fail 1002, no pong",
             _alone(6, lambda r: wire.frame(wire.PING, HELLO, rsv=r))),
        Case("3.7", "close with RSV7 -> fail 1002",
             _alone(7, lambda r: wire.close_frame(1000, rsv=r))),
        Case("3.8", "continuation with RSV1 inside a fragmented text -> fail 1002",
             lambda t: exchange(t, [wire.frame(wire.TEXT, b"frag", fin=False) +
                                    wire.frame(wire.CONT, b"ment", rsv=1)],
                                outcome=Fail(1002))),
    ]
