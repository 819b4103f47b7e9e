#!/usr/bin/env python3
"""selftest.py - the oracle's own tests (no server): the reference reading of
requests, the strict reading of responses, the case format, the generator.
Registered in fuzz/meson.build (suite fuzz-http); prints each failure."""
import os
import random
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from case import Case  # noqa: E402
from gen import Generator  # noqa: E402
from reqref import parse_requests  # noqa: E402
from respcheck import parse_responses  # noqa: E402
from runner import Failure, Outcome, check_stream  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL: " + what)


H = b"Host: localhost\r\n"
GET = b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"


def bound(data):
    return parse_requests(data).response_bound()


def err(data):
    r = parse_requests(data).requests
    return r[0].error if r else None


# -- requests: boundaries --
check(bound(GET * 3) == 3, "three pipelined GETs")
check(bound(b"\r\n" + GET) == 1, "a leading empty line is skipped")
check(bound(GET + b"GET /x HTTP/1.1\r\n") == 2, "an incomplete request may still be answered")
check(bound(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n" + GET) == 1,
      "nothing after Connection: close")
check(bound(b"GET / HTTP/1.0\r\n\r\n" + GET) == 1, "HTTP/1.0 closes by default")
post = b"POST /p HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n"
check(bound(post + GET) == 2 and not err(post), "chunked with an extension and a trailer")
check(bound(b"POST /p HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc" + GET) == 2, "Content-Length")
check(bound(b"POST /p HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + GET) == 1,
      "TE with CL: close after")
check(bound(b"GET / HTTP/1.1\n" + b"Host: x\n\n" + GET) == 2, "bare LF read leniently")

# -- requests: what MUST be refused --
for data, why in [
        (b"GET / HTTP/1.1\r\n\r\n", "Host"),
        (b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", "Host"),
        (b"GET / HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", "Content-Length"),
        (b"GET / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "differing"),
        (b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "whitespace"),
        (b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n", "Transfer-Encoding"),
        (b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"GET / HTTP/1.10\r\n" + H + b"\r\n", "version"),
        (b"GET / HTTP/9.9\r\n" + H + b"\r\n", "major")]:
    r = parse_requests(data).requests[0]
    check(r.error and why in r.error and r.must, "%r: MUST error about %s, got %s" % (data, why, r.error))
    check(bound(data + GET) == 1, "%r: nothing answered after it" % data)
check(parse_requests(b"GET / HTTP/9.9\r\n" + H + b"\r\n").requests[0].expect_status == {505}, "505")

# -- requests: WebSocket validity --
WS = (b"GET /ws/chat/lobby/ HTTP/1.1\r\n" + H + b"Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
check(parse_requests(WS).requests[0].ws_valid, "a valid handshake, mixed-case tokens")
check(not parse_requests(WS.replace(b"13\r", b"8\r")).requests[0].ws_valid, "version 8")
check(not parse_requests(WS.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"abc")).requests[0].ws_valid, "bad key")
check(not parse_requests(WS.replace(b"/ws/chat/lobby/", b"/nope/")).requests[0].ws_valid, "no route")
check(parse_requests(GET).requests[0].oracle_status() == {200}, "/healthz is 200")
check(parse_requests(GET.replace(b"\r\n\r\n", b"\r\nX: a\x00b\r\n\r\n")).requests[0].oracle_status() is None,
      "no status opinion where the reading was lenient")

# -- responses --
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
r = parse_responses(OK + b"HTTP/1.1 100 Continue\r\n\r\n" + OK, lambda i: False, False)
check(not r.error and len(r.finals) == 2 and len(r.responses) == 3, "two answers and an interim")
r = parse_responses(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n" + OK,
                    lambda i: False, False)
check(not r.error and len(r.finals) == 2 and r.finals[0].body_len == 3, "chunked response")
r = parse_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + OK, lambda i: i == 0, False)
check(not r.error and len(r.finals) == 2, "a HEAD answer has no body")
for bad, what in [(b"HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0"), (b"garbage\r\n", "status line"),
                  (b"HTTP/1.1 200 OK\nA: b\r\n\r\n", "bare LF"),
                  (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Content-Length"),
                  (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "204"),
                  (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n" + OK,
                   "after the 101"),
                  (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n"
                   b"\x81\x82ab", "masked")]:
    r = parse_responses(bad, lambda i: False, True)
    check(r.error and what in r.error, "%r: error about %s, got %s" % (bad, what, r.error))

# -- whole-stream checks --


def stream_fail(data, recv, eof=True, end="wait", expect=None):
    o = Outcome()
    o.recv, o.eof = recv, eof
    try:
        check_stream(Case(data, end=end, expect=expect), o)
    except Failure as f:
        return f.kind
    return None


CLOSE = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
check(stream_fail(GET * 2, OK * 2, eof=False) is None, "two answers to two GETs")
check(stream_fail(GET * 2, OK * 3, eof=False) == "too-many-responses", "three answers to two GETs")
smuggle = b"GET / HTTP/1.1\r\n" + H + b"Content-Length: 5x\r\n\r\nhello" + GET
check(stream_fail(smuggle, CLOSE) is None, "400 and close")
check(stream_fail(smuggle, OK + OK) == "too-many-responses", "the smuggled GET answered")
check(stream_fail(smuggle, OK) == "accepted-invalid", "Content-Length: 5x answered 200")
check(stream_fail(GET * 2, OK) == "dropped", "closed with a request unanswered")
check(stream_fail(GET, CLOSE.replace(b"400 Bad Request", b"200 OK"), eof=False) == "keep-alive",
      "said close, stayed open")
check(stream_fail(GET, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Accept: x\r\n\r\n") == "bad-101", "101 to a plain GET")
check(stream_fail(GET, OK, expect=[400]) == "expected-status", "expected statuses")

# -- the case format and the generator --
c = Case(b"GET /\x00\xff" + b"a" * 200 + b"\r\n", [3, 7], [0, 5, 0], "shut_wr", [200, [400, 431]])
d = Case.from_json(c.to_json())
check((d.data, d.splits, d.delays_ms, d.end, d.expect) == (c.data, c.splits, c.delays_ms, c.end, c.expect),
      "a case survives its JSON form")
g = Generator(random.Random(1), [c])
for _ in range(300):
    k = g.next()
    check(b"".join(k.chunks()) == k.data, "chunks put back together give the stream")
    parse_requests(k.data).response_bound()

print("%s (%d failed)" % ("FAILED" if failed else "ok", failed))
sys.exit(1 if failed else 0)
