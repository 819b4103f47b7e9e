"""6: UTF-8 in text messages (RFC 6455 5.6, 8.1; RFC 3629). Valid text is
echoed, whole and cut into one-byte fragments (code points split across
fragments are fine: validity is of the whole message); invalid text fails
the connection with 1007. The byte sequences are Markus Kuhn's UTF-8
decoder stress test, as Autobahn's family 6 uses them: overlongs,
surrogates, code points over U+10FFFF, 5- and 6-byte forms, lonely and
truncated sequences, impossible bytes; noncharacters are valid.

6.4 is fail-fast: the invalid bytes are in the first part sent, then the
suite waits 1 s before sending the rest. A server that fails only once the
rest is in is NON-STRICT (RFC 6455 8.1 requires failing, not how early),
FAILED for a target promising "utf8-fail-fast"."""
from .. import wire
from ..harness import Case, Fail, Probe, exchange

FAMILY = "UTF-8"

# "κόσμε" as Kuhn writes it: U+1F79 (3 bytes), not U+03CC, for the middle letter.
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

# (group, title, [(bytes, valid)])
GROUPS = [
    (5, "valid text", [(KOSME, True), ("€".encode(), True), ("𝄞".encode(), True),
                       (b"\xef\xbb\xbf" + b"BOM", True), (b"Hello\x00NUL", True)]),
    (6, "prefixes of κόσμε", [(KOSME[:i], i in (2, 5, 7, 9, 11)) for i in range(1, 12)]),
    (7, "first code point of each length",
     [(b"\x00", True), (b"\xc2\x80", True), (b"\xe0\xa0\x80", True),
      (b"\xf0\x90\x80\x80", True)]),
    (8, "first 5- and 6-byte forms", [(b"\xf8\x88\x80\x80\x80", False),
                                      (b"\xfc\x84\x80\x80\x80\x80", False)]),
    (9, "last code point of each length",
     [(b"\x7f", True), (b"\xdf\xbf", True), (b"\xef\xbf\xbf", True),
      (b"\xf4\x8f\xbf\xbf", True)]),
    (10, "last 4-, 5- and 6-byte forms (over U+10FFFF)",
     [(b"\xf7\xbf\xbf\xbf", False), (b"\xfb\xbf\xbf\xbf\xbf", False),
      (b"\xfd\xbf\xbf\xbf\xbf\xbf", False)]),
    (11, "other boundaries",
     [(b"\xed\x9f\xbf", True), (b"\xee\x80\x80", True), (b"\xef\xbf\xbd", True),
      (b"\xf4\x8f\xbf\xbf", True), (b"\xf4\x90\x80\x80", False)]),
    (12, "unexpected continuation bytes",
     [(b"\x80", False), (b"\xbf", False), (b"\x80\xbf", False), (b"\x80\xbf\x80", False),
      (b"\x80\xbf\x80\xbf", False), (b"\x80\xbf\x80\xbf\x80", False),
      (b"\x80\xbf\x80\xbf\x80\xbf", False), (bytes(range(0x80, 0xC0)), False)]),
    (13, "lonely start bytes followed by a space",
     [(b"".join(bytes([c, 0x20]) for c in range(a, b)), False)
      for a, b in ((0xC0, 0xE0), (0xE0, 0xF0), (0xF0, 0xF8), (0xF8, 0xFC), (0xFC, 0xFE))]),
    (14, "sequences with the last byte missing",
     [(s, False) for s in (b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
                           b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
                           b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf",
                           KOSME + b"\xe1\xbd")]),
    (15, "concatenated truncated sequences",
     [(b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"
       b"\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf", False)]),
    (16, "impossible bytes", [(b"\xfe", False), (b"\xff", False), (b"\xfe\xfe\xff\xff", False)]),
    (17, "overlong '/'",
     [(s, False) for s in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",
                           b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf")]),
    (18, "maximum overlongs",
     [(s, False) for s in (b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf",
                           b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf")]),
    (19, "overlong NUL",
     [(s, False) for s in (b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
                           b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80")]),
    (20, "single UTF-16 surrogates",
     [(b"\xed" + s, False) for s in (b"\xa0\x80", b"\xad\xbf", b"\xae\x80", b"\xaf\xbf",
                                     b"\xb0\x80", b"\xbe\x80", b"\xbf\xbf")]),
    (21, "paired UTF-16 surrogates",
     [(b"\xed" + a + b"\xed" + b, False)
      for a in (b"\xa0\x80", b"\xad\xbf", b"\xae\x80", b"\xaf\xbf")
      for b in (b"\xb0\x80", b"\xbf\xbf")]),
    (22, "noncharacters U+nFFFE, U+nFFFF (valid UTF-8)",
     [(chr(plane << 16 | low).encode("utf-8", "surrogatepass"), True)
      for plane in range(17) for low in (0xFFFE, 0xFFFF)]),
    (23, "valid odds and ends",
     [("\ufffd".encode(), True), ("\ufdd0\ufdef".encode(), True),
      (KOSME + "-Hello-µ@ßöäüàá-UTF-8!!".encode(), True),
      ("\U0010ffff\U00010000".encode(), True)]),
]


def _whole(p, valid):
    def run(t):
        if valid:
            return exchange(t, [wire.frame(wire.TEXT, p)], [("text", p)])
        return exchange(t, [wire.frame(wire.TEXT, p)], outcome=Fail(1007))
    return run


def _per_byte_fragments(p, valid):
    def run(t):
        if len(p) <= 1:
            return exchange(t, [wire.fragments(wire.TEXT, p, 1)], [("text", p)])
        data = wire.fragments(wire.TEXT, p, 1)
        if valid:
            return exchange(t, [data], [("text", p)])
        return exchange(t, [data], outcome=Fail(1007))
    return run


def _fast_fragments(first, bad, rest):
    """Fragment 1 valid, fragment 2 makes the message invalid; 1 s; then
    the last fragment: the server must have failed before it."""
    def run(t):
        return exchange(t, [wire.frame(wire.TEXT, first, fin=False) +
                            wire.frame(wire.CONT, bad, fin=False), Probe(1.0),
                            wire.frame(wire.CONT, rest)], outcome=Fail(1007, fast=True))
    return run


def _fast_in_frame(head, rest):
    """One frame whose payload is sent in two writes 1 s apart; `head`
    already cannot be UTF-8."""
    def run(t):
        f = wire.frame(wire.TEXT, head + rest)
        cut = len(f) - len(rest)
        return exchange(t, [f[:cut], Probe(1.0), f[cut:]], outcome=Fail(1007, fast=True))
    return run


def cases(target):
    hello = "Hello-µ@ßöäüàá-UTF-8!!".encode()
    out = [
        Case("6.1.1", "empty text message", lambda t: exchange(
            t, [wire.frame(wire.TEXT)], [("text", b"")])),
        Case("6.1.2", "empty text in 3 empty fragments", lambda t: exchange(
            t, [wire.frame(wire.TEXT, fin=False) + wire.frame(wire.CONT, fin=False) +
                wire.frame(wire.CONT)], [("text", b"")])),
        Case("6.1.3", "text fragments '', 'middle', ''", lambda t: exchange(
            t, [wire.frame(wire.TEXT, fin=False) + wire.frame(wire.CONT, b"middle", fin=False) +
                wire.frame(wire.CONT)], [("text", b"middle")])),
        Case("6.2.1", "valid text, one frame", _whole(hello, True)),
        Case("6.2.2", "valid text, one fragment per code point", lambda t: exchange(
            t, [b"".join(wire.frame(wire.TEXT if i == 0 else wire.CONT, ch.encode(),
                                    fin=i == len(hello.decode()) - 1)
                         for i, ch in enumerate(hello.decode()))], [("text", hello)])),
        Case("6.2.3", "valid text, one fragment per byte (code points split)",
             _per_byte_fragments(hello, True)),
        Case("6.2.4", "κόσμε, one fragment per byte", _per_byte_fragments(KOSME, True)),
        Case("6.3.1", "κόσμε + surrogate + 'edited', one frame -> 1007",
             _whole(KOSME + b"\xed\xa0\x80edited", False)),
        Case("6.3.2", "κόσμε + surrogate + 'edited', one fragment per byte -> 1007",
             _per_byte_fragments(KOSME + b"\xed\xa0\x80edited", False)),
        Case("6.4.1", "fail-fast: invalid 2nd fragment (> U+10FFFF), 3rd sent 1 s later",
             _fast_fragments(KOSME, b"\xf4\x90\x80\x80", b"edited")),
        Case("6.4.2", "fail-fast: code point cut across fragments 1|2, invalid once joined",
             _fast_fragments(KOSME + b"\xf4", b"\x90\x80\x80", b"edited")),
        Case("6.4.3", "fail-fast in a frame: invalid code point, rest of frame 1 s later",
             _fast_in_frame(KOSME + b"\xf4\x90\x80\x80", b"edited")),
        Case("6.4.4", "fail-fast in a frame: invalid after 2 bytes of a sequence",
             _fast_in_frame(KOSME + b"\xf4\x90", b"\x80\x80edited")),
        Case("6.4.5", "fail-fast in a frame: overlong at the start, 64 KiB rest 1 s later",
             _fast_in_frame(b"\xc0\xaf", b"x" * 65536)),
    ]
    for g, title, seqs in GROUPS:
        for i, (p, valid) in enumerate(seqs, 1):
            what = ("valid" if valid else "invalid -> 1007")
            out.append(Case(f"6.{g}.{i}", f"{title}: {p[:12].hex(' ')}"
                            f"{'..' if len(p) > 12 else ''} {what}", _whole(p, valid)))
            if valid and len(p) > 1:
                out.append(Case(f"6.{g}.{i}f", f"{title}: the same, one fragment per byte",
                                _per_byte_fragments(p, True)))
    return out
