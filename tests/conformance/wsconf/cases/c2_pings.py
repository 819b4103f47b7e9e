"""2: pings and pongs (RFC 6455 5.5.2-5.5.3). A ping is answered by a pong
with the same payload; an unsolicited pong is ignored; a control frame over
125 bytes fails the connection (5.5). Several pings at once: one pong each,
in order, is OK (what Autobahn expects); 5.5.3 allows answering only the
most recent of pings not yet answered, which is NON-STRICT here, FAILED for
a target promising "pong-per-ping"."""
from .. import wire
from ..harness import Case, Fail, exchange

FAMILY = "pings"

BIN = bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])


def _ping(p, chop=None):
    return lambda t: exchange(t, [wire.frame(wire.PING, p)], pongs=[p], chop=chop)


def _every_length(t):
    # 0..125 bytes, one ping per write, each answered before the next.
    conn = t.connect()
    want = []
    for n in range(126):
        p = bytes((n + i) & 0xFF for i in range(n))
        want.append(p)
        conn.send(wire.frame(wire.PING, p))
        while len([e for e in conn.events if e[0] == "pong"]) < len(want):
            if conn.next_event(2.0) is None:
                break
    return exchange(t, [], pongs=want, conn=conn)


def _ten(chop):
    def run(t):
        ps = [f"payload-{i}".encode() for i in range(10)]
        data = b"".join(wire.frame(wire.PING, p) for p in ps)
        return exchange(t, [data], pongs=ps, chop=chop, pings_at_once=True)
    return run


def cases(target):
    return [
        Case("2.1", "ping, no payload", _ping(b"")),
        Case("2.2", "ping, text payload", _ping(b"Hello, world!")),
        Case("2.3", "ping, binary payload", _ping(BIN)),
        Case("2.4", "ping, 125-byte binary payload", _ping(bytes([0xFE]) * 125)),
        Case("2.5", "ping, 126-byte payload -> fail 1002",
             lambda t: exchange(t, [wire.frame(wire.PING, b"\xfe" * 126)], outcome=Fail(1002))),
        Case("2.6", "ping, 125-byte payload, one byte per write", _ping(b"\xfe" * 125, chop=1)),
        Case("2.7", "unsolicited pong, no payload: ignored",
             lambda t: exchange(t, [wire.frame(wire.PONG)])),
        Case("2.8", "unsolicited pong with payload: ignored",
             lambda t: exchange(t, [wire.frame(wire.PONG, b"unsolicited pong payload")])),
        Case("2.9", "unsolicited pong, then ping: one pong, the ping's",
             lambda t: exchange(t, [wire.frame(wire.PONG, b"unsolicited pong payload") +
                                    wire.frame(wire.PING, b"ping payload")],
                                pongs=[b"ping payload"])),
        Case("2.10", "10 pings in one write -> 10 pongs in order", _ten(None)),
        Case("2.11", "10 pings, one byte per write -> 10 pongs in order", _ten(1)),
        Case("2.12", "pings of every payload length 0..125", _every_length),
    ]
