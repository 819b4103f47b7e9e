"""reqref.py - the reference reading of a client byte stream (the oracle).

parse_requests(data) reads the bytes a client sent as RFC 9112 says a
server must read them, and returns the pipelined requests it finds. Where
the RFC lets a server choose (bare LF as a line end, obs-fold replaced by a
space, NUL/CR in a value replaced by a space, identical duplicate
Content-Length merged, whitespace-separated request-line words), this
reading takes the LENIENT choice: it then finds at least as many request
boundaries as any correct server, so "the server answered more requests
than this reading found" means the server split the bytes where no correct
parser can (request smuggling), not that it made a different legal choice.

Where the RFC says MUST reject (Content-Length that is not digits or that
differs between copies, Transfer-Encoding whose final coding is not
chunked, whitespace before a field colon, no Host or two Host lines in
HTTP/1.1, a version that is not HTTP/d.d or whose major is not 1, broken
chunk framing), the request is an error with must=True: a server may close
without answering it, or answer it with an error status, never with 2xx/3xx.
Parsing stops at the first error (a correct server closes there).

Pure: bytes in, result out; no I/O.
"""
import base64
import re

TCHAR = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VERSION = re.compile(rb"^HTTP/([0-9])\.([0-9])$")
HOST_OK = re.compile(rb"^[A-Za-z0-9\-._~!$&'()*+,;=:%\[\]]*$")
WS_KEY = re.compile(rb"^[A-Za-z0-9+/]{22}==$")
# The WebSocket routes of the shipped apps (apps/*/) (consumers accept without a session).
WS_ROUTES = [re.compile(rb"^/ws/chat/\w+/$"), re.compile(rb"^/notifications/$"),
             re.compile(rb"^/ws/two_url/$")]
STATIC_FILES = [b"/static/css/site.css", b"/static/js/chat.js", b"/static/js/ws.js",
                b"/static/js/posts.js", b"/static/js/chart.js", b"/static/js/notifications.js",
                b"/static/img/favicon.svg"]
MAX_CHUNK_HEX = 16


class Request:
    """One request of the stream as the reference reads it."""

    def __init__(self, start):
        self.start = start          # offset of its first byte (after skipped empty lines)
        self.end = None             # offset after its last byte (None: incomplete)
        self.method = b""
        self.target = b""
        self.path = b""
        self.version = (1, 1)
        self.headers = []           # [(lowercase name, value)]
        self.head_len = 0
        self.error = None           # None, or why it is invalid
        self.must = False           # error the RFC says MUST be rejected
        self.expect_status = None   # for errors: the statuses a server should use
        self.close_after = False    # a correct server closes after answering it
        self.ws_attempt = False     # carries an Upgrade naming websocket
        self.ws_valid = False       # a WebSocket handshake this server must accept (101)
        self.expect_continue = False
        self.lenient = []           # the lenient readings taken (a server may refuse instead)
        self.head_prefix = False    # starts with "HEAD" + SP/HTAB: answered as a HEAD

    def header(self, name):
        return [v for n, v in self.headers if n == name]

    def tokens(self, name):
        out = []
        for v in self.header(name):
            out += [t.strip().lower() for t in v.split(b",") if t.strip()]
        return out

    @property
    def complete(self):
        return self.end is not None and self.error is None

    @property
    def is_head(self):
        # The server can only go by what it has read when it answers, which
        # may be before the request line ends (an error inside it): a
        # request is a HEAD when its first word is "HEAD" followed by SP or
        # HTAB, valid line or not. "HEAD" alone on a line is not.
        return self.head_prefix

    def oracle_status(self):
        """The statuses a correct server answers this valid request with, or None
        when the reference has no opinion (any non-5xx answer is fine)."""
        if self.head_len > 4096 or self.header(b"upgrade") and not self.ws_attempt:
            return None
        if self.method in (b"GET", b"HEAD") and (self.header(b"transfer-encoding") or any(
                v.strip(b" \t0") for v in self.header(b"content-length"))):
            return None   # content on GET: RFC 9110 9.3.1 lets a server refuse it
        if self.lenient or [v for v in self.header(b"expect") if v.lower() != b"100-continue"]:
            return None   # a lenient reading, or an expectation the server may refuse (417)
        if self.header(b"host") and not re.match(rb"^(localhost|127\.0\.0\.1)(:[0-9]+)?$",
                                                 self.header(b"host")[0]):
            return None   # a host the server may not serve (allowed hosts)
        if self.ws_valid:
            return {101}
        if self.ws_attempt:
            return None
        if self.method in (b"GET", b"HEAD") and self.path == b"/healthz":
            return {200}
        if self.method in (b"GET", b"HEAD") and self.path in STATIC_FILES:
            return {200, 304}
        return None

    def describe(self):
        s = "%s %s" % (self.method.decode("latin-1")[:20], self.target.decode("latin-1")[:40])
        if self.error:
            s += " [error%s: %s]" % (" MUST" if self.must else "", self.error)
        return s


class Stream:
    """parse_requests() result."""

    def __init__(self):
        self.requests = []          # complete requests, then at most one error/incomplete one
        self.trailing = False       # bytes after the last complete request that form no request
        self.stopped = None         # why reading stopped early ("close", "error"), or None

    def response_bound(self):
        """The most final responses a correct server sends on this stream."""
        n = 0
        for r in self.requests:
            n += 1
            if r.error or r.close_after:
                return n
        return n + (1 if self.trailing else 0)

    def complete_valid(self):
        out = []
        for r in self.requests:
            if not r.complete:
                break
            out.append(r)
            if r.close_after:
                break
        return out


def _line(data, pos):
    """(line without its terminator, offset after it, bare_lf) or None if incomplete."""
    nl = data.find(b"\n", pos)
    if nl < 0:
        return None
    end = nl
    bare = True
    if end > pos and data[end - 1:end] == b"\r":
        end -= 1
        bare = False
    return data[pos:end], nl + 1, bare


def _head_line(data, pos, req):
    """_line() for a line of the head: (line, offset after it) or None if
    incomplete; a line ended by a bare LF is noted in req.lenient."""
    got = _line(data, pos)
    if got is None:
        return None
    line, pos, bare = got
    if bare:
        req.lenient.append("bare LF")
    return line, pos


def _err(req, why, must=False, status=None):
    req.error = why
    req.must = must
    req.expect_status = status or {400}
    return req


def _parse_head(data, pos, req):
    """Reads the request line and fields. Returns the offset after the head, or
    None if incomplete; sets req.error on an invalid head."""
    got = _head_line(data, pos, req)
    if got is None:
        return None
    line, pos = got
    words = line.replace(b"\t", b" ").replace(b"\r", b" ").replace(b"\x0b", b" ") \
        .replace(b"\x0c", b" ").split(b" ")
    words = [w for w in words if w]
    if len(words) == 3 and line != b" ".join(words):
        req.lenient.append("odd whitespace in the request line")
    if len(words) != 3:
        _err(req, "request line has %d words" % len(words), must=len(words) < 3,
             status={400, 414})
        return pos
    req.method, req.target, ver = words
    if not TCHAR.match(req.method):
        _err(req, "method is not a token", status={400, 501})
        return pos
    m = VERSION.match(ver)
    if not m:
        _err(req, "invalid HTTP version %r" % ver[:20], must=True, status={400, 505})
        return pos
    req.version = (int(m.group(1)), int(m.group(2)))
    if req.version[1] > 1:
        req.lenient.append("HTTP/1.%d read as HTTP/1.1" % req.version[1])
    if req.version[0] != 1:
        _err(req, "unsupported major version", must=True, status={505})
        return pos
    if any(c < 0x21 or c == 0x7F for c in req.target):
        _err(req, "control byte in the target", status={400})
        return pos
    t = req.target
    if req.method == b"CONNECT":
        _err(req, "CONNECT (a proxy's method)", status={400, 405, 501})
        return pos
    if re.search(rb'[\x80-\xff"<>\\^`{|}]', t):
        req.lenient.append("bytes a URI does not allow in the target")   # 400 is fine too
    if t.startswith(b"/"):
        req.path = t.split(b"?", 1)[0]
    elif re.match(rb"^[A-Za-z][A-Za-z0-9+.\-]*://", t):
        scheme, rest = t.split(b"://", 1)
        slash = rest.find(b"/")
        authority = rest[:slash] if slash >= 0 else rest.split(b"?", 1)[0]
        if scheme.lower() in (b"http", b"https") and not authority.split(b"@")[-1].split(b":")[0]:
            _err(req, "http URI with an empty host", must=True)   # RFC 9110 4.2.1
            return pos
        req.path = (rest[slash:] if slash >= 0 else b"/").split(b"?", 1)[0]
        req.lenient.append("absolute-form (the server may refuse its authority)")
    elif t == b"*" and req.method == b"OPTIONS":
        req.path = b"*"
    else:
        _err(req, "target is not origin-, absolute-, asterisk- or authority-form", status={400, 404})
        return pos

    head_start = req.start
    while True:
        got = _head_line(data, pos, req)
        if got is None:
            return None
        line, pos = got
        if line == b"":
            break
        if line[:1] in (b" ", b"\t"):
            req.lenient.append("obs-fold")
            if not req.headers:
                _err(req, "whitespace before the first field", must=False)
                return pos
            n, v = req.headers[-1]
            req.headers[-1] = (n, v + b" " + line.strip(b" \t"))   # obs-fold: replace by SP
            continue
        colon = line.find(b":")
        if colon <= 0:
            _err(req, "field line without a name and colon", status={400, 431})
            return pos
        name = line[:colon]
        if name[-1:] in (b" ", b"\t"):
            _err(req, "whitespace between field name and colon", must=True)
            return pos
        if not TCHAR.match(name):
            _err(req, "field name is not a token", status={400, 431})
            return pos
        value = line[colon + 1:].strip(b" \t")
        if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value):
            req.lenient.append("control byte in a field value")
            value = value.replace(b"\0", b" ").replace(b"\r", b" ")
        req.headers.append((name.lower(), value))
    req.head_len = pos - head_start
    return pos


def _valid_ws(req):
    if req.method != b"GET" or req.version != (1, 1):
        return False
    if b"upgrade" not in req.tokens(b"connection"):
        return False
    keys = req.header(b"sec-websocket-key")
    vers = req.header(b"sec-websocket-version")
    if len(keys) != 1 or not WS_KEY.match(keys[0]) or len(base64.b64decode(keys[0])) != 16:
        return False
    if vers != [b"13"]:
        return False
    if not any(r.match(req.path) for r in WS_ROUTES):
        return False
    origins = req.header(b"origin")
    hosts = req.header(b"host")
    if origins and (len(origins) != 1 or origins[0] not in (b"http://" + hosts[0],
                                                            b"https://" + hosts[0])):
        return False
    if req.header(b"sec-websocket-protocol"):
        return False  # the apps offer no subprotocol: a correct server may refuse
    if req.header(b"content-length") not in ([], [b"0"]) or req.header(b"transfer-encoding"):
        return False
    return True


def _parse_chunked(data, pos, req):
    """Offset after the chunked body and its trailers, None if incomplete; sets
    req.error on broken framing."""
    while True:
        got = _line(data, pos)
        if got is None:
            return None
        line, pos, _ = got
        m = re.match(rb"^([0-9A-Fa-f]+)", line)
        if not m or len(m.group(1).lstrip(b"0")) > MAX_CHUNK_HEX:
            _err(req, "bad chunk size %r" % line[:20], must=True, status={400, 413})
            return pos
        size = int(m.group(1), 16)
        ext = line[m.end():]
        # Lenient on the extension's grammar (it does not move a boundary: the
        # size is read the same), strict on bytes that can: CR, NUL.
        if b"\r" in ext or b"\0" in ext:
            _err(req, "CR or NUL in a chunk line %r" % line[:20], must=True)
            return pos
        if ext and not re.match(rb'^([ \t]*;[ \t]*[!#$%&\'*+\-.^_`|~0-9A-Za-z]+'
                                rb'([ \t]*=[ \t]*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+|"[^"\\]*"))?)*[ \t]*$',
                                ext):
            req.lenient.append("chunk extension read leniently")
        if size == 0:
            break
        if len(data) < pos + size:
            return None
        pos += size
        got = _line(data, pos)
        if got is None:
            if len(data) - pos >= 2:
                _err(req, "chunk data not followed by CRLF", must=True)
                return pos
            return None
        if got[0] != b"":
            _err(req, "chunk data not followed by CRLF", must=True)
            return pos
        pos = got[1]
    while True:  # trailer section
        got = _line(data, pos)
        if got is None:
            return None
        line, pos, _ = got
        if line == b"":
            return pos
        colon = line.find(b":")
        if colon <= 0 or not TCHAR.match(line[:colon]):
            _err(req, "bad trailer field", must=True)
            return pos


def _parse_one(data, pos, req):
    """Fills req; returns the offset after it or None (incomplete)."""
    pos = _parse_head(data, pos, req)
    if pos is None or req.error:
        return pos
    hosts = req.header(b"host")
    if req.version == (1, 1) and len(hosts) != 1:
        return _err(req, "%d Host fields" % len(hosts), must=True) and pos
    if len(hosts) > 1 or hosts and not HOST_OK.match(hosts[0]):
        return _err(req, "invalid Host", must=True) and pos
    conn = req.tokens(b"connection")
    if b"close" in conn or req.version == (1, 0) and b"keep-alive" not in conn:
        req.close_after = True
    if b"100-continue" in [v.lower() for v in req.header(b"expect")]:
        req.expect_continue = True
    up = req.tokens(b"upgrade")
    req.ws_attempt = b"websocket" in up
    req.ws_valid = req.ws_attempt and _valid_ws(req)
    if req.ws_valid and len(up) > 1:
        req.lenient.append("Upgrade lists more than websocket")

    te = req.tokens(b"transfer-encoding")
    cls = req.header(b"content-length")
    if req.header(b"transfer-encoding"):
        if not te or te[-1] != b"chunked" or te.count(b"chunked") != 1:
            return _err(req, "Transfer-Encoding %r" % b", ".join(te)[:40], must=True,
                        status={400, 501}) and pos
        if len(te) > 1:
            # chunked last: the boundary is known; the server may answer 501 and go on
            req.lenient.append("a transfer coding other than chunked")
        if cls or req.version == (1, 0):
            req.close_after = True   # RFC 9112 6.1/6.3: framing faulty, close after
        return _parse_chunked(data, pos, req)
    if cls:
        vals = [v.strip(b" \t") for c in cls for v in c.split(b",")]
        if not all(re.match(rb"^[0-9]+$", v) for v in vals):
            return _err(req, "Content-Length %r" % b",".join(cls)[:40], must=True) and pos
        if len(set(int(v) for v in vals)) != 1:
            return _err(req, "differing Content-Length", must=True) and pos
        if len(vals) > 1:
            req.lenient.append("repeated Content-Length")
        n = int(vals[0])
        if n > 1 << 62:
            return _err(req, "Content-Length overflows", must=True, status={400, 413}) and pos
        if len(data) < pos + n:
            return None
        return pos + n
    return pos


def parse_requests(data):
    st = Stream()
    pos = 0
    while pos < len(data):
        while data[pos:pos + 2] == b"\r\n" or data[pos:pos + 1] == b"\n":
            pos += 2 if data[pos] == 0x0D else 1
        if pos >= len(data):
            break
        req = Request(pos)
        req.head_prefix = re.match(rb"HEAD[ \t]", data[pos:pos + 5]) is not None
        end = _parse_one(data, pos, req)
        if end is None:            # incomplete: a server may still answer (an error) early
            st.requests.append(req)
            st.stopped = "incomplete"
            return st
        req.end = end
        if req.ws_valid and end < len(data):
            req.lenient.append("bytes after the handshake")   # 101 or a refusal: both fine
        st.requests.append(req)
        if req.error:
            st.stopped = "error"
            return st
        pos = end
        if req.close_after:
            st.stopped = "close"
            if pos < len(data):
                st.trailing = False   # ignored by a correct server
            return st
    return st
