"""respcheck.py - strict reading of what the server sent on one connection.

parse_responses(data, is_head) splits the server's bytes into HTTP/1.1
responses and says where they stop being well-formed. Strict on purpose:
a status line is exactly `HTTP/1.1 NNN reason CRLF`, field lines are
`token ":" OWS value OWS CRLF` without bare LF or obs-fold, a body is
framed by one Content-Length, or by chunked (then no Content-Length), or
by the close of the connection; 1xx, 204, 304 and answers to HEAD have no
body. After a 101 the rest is WebSocket frames from a server: unmasked,
RSV bits clear unless an extension was agreed, known opcodes, control
frames unfragmented and at most 125 bytes.

Pure: bytes in, result out; no I/O.
"""
import re

STATUS = re.compile(rb"^HTTP/1\.1 ([1-5][0-9][0-9]) ([\t\x20-\x7e\x80-\xff]*)$")
TCHAR = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VALUE = re.compile(rb"^[\t\x20-\x7e\x80-\xff]*$")


class Response:
    def __init__(self, start):
        self.start = start
        self.status = 0
        self.headers = []
        self.complete = False
        self.framing = None   # "none", "length", "chunked", "close"
        self.body_len = 0

    def header(self, name):
        return [v for n, v in self.headers if n == name]

    @property
    def says_close(self):
        return any(b"close" in [t.strip().lower() for t in v.split(b",")]
                   for v in self.header(b"connection"))

    @property
    def interim(self):
        return 100 <= self.status < 200 and self.status != 101


class Result:
    def __init__(self):
        self.responses = []     # every response, interim ones included
        self.error = None       # first violation, with its offset
        self.upgraded = False   # a 101 was seen: what follows are frames
        self.frames = 0

    @property
    def finals(self):
        return [r for r in self.responses if not r.interim]


def _crlf_line(data, pos):
    """(line, next) for a CRLF-terminated line; None if incomplete; raises on bare LF/CR."""
    nl = data.find(b"\n", pos)
    if nl < 0:
        if b"\r" in data[pos:-1]:
            raise ValueError("bare CR")
        return None
    if nl == pos or data[nl - 1] != 0x0D:
        raise ValueError("bare LF")
    line = data[pos:nl - 1]
    if b"\r" in line:
        raise ValueError("bare CR")
    return line, nl + 1


def _field_block(data, pos, fields):
    """Reads CRLF lines up to the empty one that ends a block of fields (a
    head, or a chunked body's trailers): the offset after it, or None if
    incomplete. With a list `fields`, each line must be a field line and is
    appended as (lower-case name, value); with None, the lines are skipped."""
    while True:
        got = _crlf_line(data, pos)
        if got is None:
            return None
        line, pos = got
        if line == b"":
            return pos
        if fields is None:
            continue
        colon = line.find(b":")
        if colon <= 0 or not TCHAR.match(line[:colon]):
            raise ValueError("bad field line %r" % line[:60])
        v = line[colon + 1:].strip(b" \t")
        if not VALUE.match(v):
            raise ValueError("control byte in field %r" % line[:60])
        fields.append((line[:colon].lower(), v))

def _frames(data, pos, res, ext):
    """Checks server WebSocket frames from pos; stops quietly at a partial frame."""
    while pos < len(data):
        if len(data) - pos < 2:
            return
        b0, b1 = data[pos], data[pos + 1]
        op = b0 & 0x0F
        if b0 & 0x70 and not (ext and b0 & 0x40):
            raise ValueError("frame %d: reserved bits set" % res.frames)
        if op not in (0, 1, 2, 8, 9, 10):
            raise ValueError("frame %d: opcode %d" % (res.frames, op))
        if b1 & 0x80:
            raise ValueError("frame %d: a server frame is masked" % res.frames)
        n = b1 & 0x7F
        hl = 2
        if n == 126:
            if len(data) - pos < 4:
                return
            n = int.from_bytes(data[pos + 2:pos + 4], "big")
            hl = 4
            if n < 126:
                raise ValueError("frame %d: non-minimal length" % res.frames)
        elif n == 127:
            if len(data) - pos < 10:
                return
            n = int.from_bytes(data[pos + 2:pos + 10], "big")
            hl = 10
            if n < 65536 or n >> 63:
                raise ValueError("frame %d: non-minimal or huge length" % res.frames)
        if op >= 8 and (n > 125 or not b0 & 0x80):
            raise ValueError("frame %d: control frame fragmented or over 125" % res.frames)
        if len(data) - pos < hl + n:
            return
        if op == 8 and n == 1:
            raise ValueError("frame %d: close frame with a 1-byte payload" % res.frames)
        pos += hl + n
        res.frames += 1


def parse_responses(data, is_head, eof):
    """is_head(i): whether the i-th final response answers a HEAD request.
    eof: the server closed its side (a body framed by close ends there)."""
    res = Result()
    pos = 0
    nfinal = 0
    try:
        while pos < len(data):
            r = Response(pos)
            res.responses.append(r)
            got = _crlf_line(data, pos)
            hint = " (the previous response answers a HEAD: a body sent anyway?)" \
                if nfinal and is_head(nfinal - 1) else ""
            if got is None:
                if not data.startswith(b"HTTP/1.1 "[:len(data) - pos], pos):
                    raise ValueError("not a status line: %r%s" % (data[pos:pos + 40], hint))
                return res
            line, pos = got
            m = STATUS.match(line)
            if not m:
                pos = r.start
                if line.startswith(b"HTTP/1.0 "):
                    raise ValueError("HTTP/1.0 status line %r" % line[:60])
                raise ValueError("bad status line %r%s" % (line[:60], hint))
            r.status = int(m.group(1))
            pos = _field_block(data, pos, r.headers)
            if pos is None:
                return res
            cl = r.header(b"content-length")
            te = r.header(b"transfer-encoding")
            if len(cl) > 1 or cl and not re.match(rb"^[0-9]{1,18}$", cl[0]):
                raise ValueError("response Content-Length %r" % cl)
            if cl and te:
                raise ValueError("response with Content-Length and Transfer-Encoding")
            if r.status == 101:
                if r.header(b"upgrade") == [] or r.header(b"sec-websocket-accept") == []:
                    raise ValueError("101 without Upgrade or Sec-WebSocket-Accept")
                r.complete = True
                res.upgraded = True
                if data.startswith(b"HTTP/1."[:len(data) - pos], pos) and len(data) > pos:
                    raise ValueError("an HTTP response after the 101 (out of order, or "
                                     "answering bytes after the handshake)")
                _frames(data, pos, res, bool(r.header(b"sec-websocket-extensions")))
                return res
            if r.interim or r.status in (204, 304):
                if (r.interim or r.status == 204) and (cl or te):
                    raise ValueError("%d with Content-Length or Transfer-Encoding" % r.status)
                r.framing = "none"
                r.complete = True
                continue
            head = is_head(nfinal)
            nfinal += 1
            if head:
                r.framing = "none"
                r.complete = True
                continue
            if te:
                codings = [t.strip().lower() for t in b",".join(te).split(b",")]
                if codings[-1:] != [b"chunked"]:
                    raise ValueError("response Transfer-Encoding %r" % te)
                r.framing = "chunked"
                while True:
                    got = _crlf_line(data, pos)
                    if got is None:
                        return res
                    line, pos = got
                    mm = re.match(rb"^([0-9A-Fa-f]{1,16})(;.*)?$", line)
                    if not mm:
                        raise ValueError("bad response chunk size %r" % line[:30])
                    n = int(mm.group(1), 16)
                    if n == 0:
                        break
                    if len(data) < pos + n + 2:
                        return res
                    if data[pos + n:pos + n + 2] != b"\r\n":
                        raise ValueError("response chunk not followed by CRLF")
                    pos += n + 2
                    r.body_len += n
                pos = _field_block(data, pos, None)
                if pos is None:
                    return res
                r.complete = True
            elif cl:
                r.framing = "length"
                n = int(cl[0])
                if len(data) < pos + n:
                    r.body_len = len(data) - pos
                    return res
                pos += n
                r.body_len = n
                r.complete = True
            else:
                r.framing = "close"
                r.body_len = len(data) - pos
                r.complete = eof
                return res
    except ValueError as e:
        res.error = "%s (at byte %d of the response stream)" % (e, pos)
    return res
