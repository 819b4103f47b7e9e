"""7: the closing handshake (RFC 6455 5.5.1, 7.1-7.4). A close frame is
answered with a close frame (no status for none; otherwise, "typically",
the same code: 5.5.1) and then TCP close by the server (7.1.1); after its
close the server answers nothing and ignores what follows. Codes the
endpoint may not send (7.4.1: 1004-1006, 1015; 7.4.2: under 1000, unassigned
1016-2999, over 4999) and a 1-byte payload fail the connection with 1002; a
reason that is not UTF-8 with 1007 (5.5.1, 8.1)."""
from .. import wire
from ..harness import Case, Closing, Fail, exchange

FAMILY = "close"

F = wire.frame
HELLO = b"Hello, world!"
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
# Registered after RFC 6455 (IANA registry: 1012 Service Restart, 1013 Try
# Again Later, 1014 Bad Gateway): valid for a server that knows the
# registry; 7.4.2 puts 1000-2999 aside "for definition by this protocol",
# so an RFC 6455-only endpoint failing with 1002 is NON-STRICT.
REGISTERED = [1012, 1013, 1014]
INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def _close_code(code, error_ok=False):
    def run(t):
        return exchange(t, [wire.close_frame(code)], outcome=Closing(code, error_ok=error_ok))
    return run


def _invalid(code):
    return lambda t: exchange(t, [wire.close_frame(code)], outcome=Fail(1002))


def cases(target):
    out = [
        Case("7.1.1", "text, then close 1000 -> echo, close 1000",
             lambda t: exchange(t, [F(wire.TEXT, HELLO) + wire.close_frame(1000)],
                                [("text", HELLO)], outcome=Closing(1000))),
        Case("7.1.2", "two close frames -> one close, the second ignored",
             lambda t: exchange(t, [wire.close_frame(1000) + wire.close_frame(1000)],
                                outcome=Closing(1000))),
        Case("7.1.3", "close, then ping -> no pong",
             lambda t: exchange(t, [wire.close_frame(1000) + F(wire.PING, b"after close")],
                                outcome=Closing(1000))),
        Case("7.1.4", "close, then text -> no echo",
             lambda t: exchange(t, [wire.close_frame(1000) + F(wire.TEXT, HELLO)],
                                outcome=Closing(1000))),
        Case("7.1.5", "text fragment, close, continuation -> close only",
             lambda t: exchange(t, [F(wire.TEXT, b"fragment1", fin=False) +
                                    wire.close_frame(1000) + F(wire.CONT, b"fragment2")],
                                outcome=Closing(1000))),
        Case("7.1.6", "close, then data frames in later writes -> ignored",
             lambda t: exchange(t, [wire.close_frame(1000), F(wire.TEXT, HELLO),
                                    F(wire.BINARY, HELLO)], outcome=Closing(1000))),
        # No status: the answer has none (5.5.1 "If there is a body..."),
        # or 1000, which 7.4.1 names normal closure.
        Case("7.3.1", "close without payload -> close without payload (or 1000)",
             lambda t: exchange(t, [wire.close_frame()], outcome=Closing(None, 1000))),
        Case("7.3.2", "close with a 1-byte payload -> fail 1002",
             lambda t: exchange(t, [F(wire.CLOSE, b"\x03")], outcome=Fail(1002))),
        Case("7.3.3", "close 1000, no reason -> close 1000", _close_code(1000)),
        Case("7.3.4", "close 1000 + reason -> close 1000",
             lambda t: exchange(t, [wire.close_frame(1000, "Hello World!")],
                                outcome=Closing(1000))),
        Case("7.3.5", "close 1000 + 123-byte reason -> close 1000",
             lambda t: exchange(t, [wire.close_frame(1000, "*" * 123)], outcome=Closing(1000))),
        Case("7.3.6", "close 1000 + 124-byte reason (126-byte control frame) -> fail 1002",
             lambda t: exchange(t, [wire.close_frame(1000, "*" * 124)], outcome=Fail(1002))),
        Case("7.5.1", "close 1000 with a reason that is not UTF-8 -> fail 1007",
             lambda t: exchange(t, [wire.close_frame(1000, KOSME + b"\xed\xa0\x80edited")],
                                outcome=Fail(1007))),
    ]
    for i, code in enumerate(VALID, 1):
        out.append(Case(f"7.7.{i}", f"close {code} -> close {code}", _close_code(code)))
    for i, code in enumerate(REGISTERED, len(VALID) + 1):
        out.append(Case(f"7.7.{i}", f"close {code} (IANA registry) -> close {code}",
                        _close_code(code, error_ok=True)))
    for i, code in enumerate(INVALID, 1):
        out.append(Case(f"7.9.{i}", f"close {code} -> fail 1002", _invalid(code)))
    return out
