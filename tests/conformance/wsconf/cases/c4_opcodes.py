"""4: opcodes. Reserved non-control opcodes 3-7 (4.1) and reserved control
opcodes 0xB-0xF (4.2) fail the connection with 1002 (RFC 6455 5.2: "If an
unknown opcode is received, the receiving endpoint MUST _Fail the
WebSocket Connection_"), also after a valid message (echoed first) and
before a ping (no pong)."""
from .. import wire
from ..harness import Case, Fail, Pause, exchange

FAMILY = "opcodes"

HELLO = b"Hello, world!"


def _alone(op, payload):
    return lambda t: exchange(t, [wire.frame(op, payload)], outcome=Fail(1002))


def _after_text(op, payload, frame_per_write=False):
    def run(t):
        frames = [wire.frame(wire.TEXT, HELLO), wire.frame(op, payload), wire.frame(wire.PING)]
        writes = ([frames[0], Pause(0.05), frames[1], Pause(0.05), frames[2]]
                  if frame_per_write else [b"".join(frames)])
        return exchange(t, writes, [("text", HELLO)], outcome=Fail(1002))
    return run


def cases(target):
    out = []
    for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        a, b, c, d, e = ops
        kind = "non-control" if sub == 1 else "control"
        out += [
            Case(f"4.{sub}.1", f"reserved {kind} opcode {a} -> fail 1002", _alone(a, b"")),
            Case(f"4.{sub}.2", f"reserved {kind} opcode {b} with payload -> fail 1002",
                 _alone(b, HELLO)),
            Case(f"4.{sub}.3", f"text, opcode {c}, ping -> echo, fail 1002, no pong",
                 _after_text(c, b"")),
            Case(f"4.{sub}.4", f"text, opcode {d} with payload, ping -> echo, fail 1002",
                 _after_text(d, HELLO)),
            Case(f"4.{sub}.5", f"text, opcode {e} with payload, ping (frame per write)",
                 _after_text(e, HELLO, frame_per_write=True)),
        ]
    return out
