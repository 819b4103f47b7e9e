"""0: the opening handshake (RFC 6455 4.2.1-4.2.2). Every other family
uses the canonical form of 0.1; these vary what RFC 6455 says must be
compared case-insensitively or parsed as a token list."""
from .. import wire
from ..harness import FAILED, NON_STRICT, OK, Case, Result, exchange

FAMILY = "handshake"


def _accepted(target, **hs):
    """The handshake must succeed, then a text message is echoed."""
    try:
        conn = target.connect(**hs)
    except (OSError, wire.HandshakeError) as e:
        return Result(FAILED, f"handshake: {e}")
    return exchange(target, [wire.frame(wire.TEXT, "Hello")], [("text", b"Hello")], conn=conn)


def _refused(target, want_status, want_header=None, accepted=FAILED, **hs):
    """The handshake must be answered want_status (another 4xx is
    NON-STRICT); a 101 is `accepted` (FAILED unless the RFC allows it)."""
    conn = wire.Conn(target.host, target.port, target.path)
    try:
        status, headers, _ = conn.raw_handshake(**hs)
    except (OSError, wire.HandshakeError) as e:
        return Result(FAILED, f"handshake: {e}")
    finally:
        conn.close()
    if status == 101:
        return Result(accepted, "101: the server accepted it")
    if status != want_status:
        return Result(NON_STRICT if 400 <= status < 500 else FAILED,
                      f"HTTP {status}, expected {want_status}")
    if want_header and headers.get(want_header[0].lower()) != want_header[1]:
        return Result(NON_STRICT, f"HTTP {status} without {want_header[0]}: {want_header[1]}")
    return Result(OK)


def cases(target):
    origin = f"http://{target.host}:{target.port}"
    return [
        Case("0.1", "canonical: Upgrade: websocket, Connection: Upgrade",
             lambda t: _accepted(t)),
        # RFC 6455 4.2.1 item 3: "websocket", an ASCII case-insensitive value.
        # (Autobahn's own client sends "Upgrade: WebSocket".)
        Case("0.2", "Upgrade: WebSocket (mixed case)",
             lambda t: _accepted(t, upgrade="WebSocket")),
        Case("0.3", "Upgrade: WEBSOCKET", lambda t: _accepted(t, upgrade="WEBSOCKET")),
        # 4.2.1 item 4: Connection includes the token "Upgrade" (a token list,
        # case-insensitive), as Firefox sends it.
        Case("0.4", "Connection: keep-alive, Upgrade",
             lambda t: _accepted(t, connection="keep-alive, Upgrade")),
        Case("0.5", "lower-case field names, Connection: upgrade",
             lambda t: _accepted(t, connection="upgrade", lower_names=True)),
        Case("0.6", "Origin equal to the Host (a browser's same-origin request)",
             lambda t: _accepted(t, extra=[("Origin", origin)])),
        # 4.2.2 / 4.4: a version the server does not understand is refused,
        # "such as 426 Upgrade Required" with the versions it speaks. 14
        # was never assigned to any draft.
        Case("0.7", "Sec-WebSocket-Version: 14 -> 426 + Sec-WebSocket-Version: 13",
             lambda t: _refused(t, 426, ("Sec-WebSocket-Version", "13"), version="14")),
        # 8 is draft hybi-10's: a server may still "understand" it (4.2.2),
        # so a 101 is NON-STRICT, not FAILED.
        Case("0.8", "Sec-WebSocket-Version: 8 (a draft's) -> 426",
             lambda t: _refused(t, 426, ("Sec-WebSocket-Version", "13"), version="8",
                                accepted=NON_STRICT)),
        # 4.2.1 item 5 / 4.2.2: no key, not a WebSocket handshake: "such as
        # 400 Bad Request" (another 4xx is NON-STRICT).
        Case("0.9", "no Sec-WebSocket-Key -> 400", lambda t: _refused(t, 400, key=False)),
    ]
