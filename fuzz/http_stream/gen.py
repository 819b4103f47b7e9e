"""gen.py - the streams of the long run: a grammar of HTTP/1.1 requests with
deliberate faults, mutation of corpus entries, and random delivery.

Generator(rng, corpus).next() returns a Case. Every choice comes from the
one random.Random, so a --seed repeats a run against the same server.
"""
import base64
import json

from case import Case

PATHS = [b"/healthz", b"/healthz", b"/", b"/static/css/site.css", b"/static/js/chat.js",
         b"/static/img/favicon.svg", b"/posts/", b"/chat/", b"/chat/lobby/", b"/notifications/",
         b"/nope", b"/healthz?x=1&y=%20z", b"/static/../README.md", b"//healthz",
         b"/static/%2e%2e/meson.build", b"/_test/sleep/5/", b"/chart/", b"/static/js/"]
WS_PATHS = [b"/ws/chat/lobby/", b"/ws/chat/lobby/", b"/notifications/", b"/ws/two_url/",
            b"/ws/chat/no-such/", b"/nope/", b"/healthz"]
INTERESTING = [b"\r\n", b"\r\n\r\n", b"\n", b"\r", b"\x00", b" ", b"\t", b":", b";", b",",
               b"0", b"-1", b"+", b"\xff", b"Content-Length: 5\r\n",
               b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", b"HTTP/1.1", b"Host: x\r\n",
               b"Connection: close\r\n", b"Expect: 100-continue\r\n", b"Upgrade: websocket\r\n",
               b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", b"ffffffffffffffff",
               b"99999999999999999999"]
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class Generator:
    def __init__(self, rng, corpus):
        self.r = rng
        self.corpus = [c for c in corpus if len(c.data) < 20000] or corpus
        self.faulty = True
        self.scale = 1.0

    # ---- small helpers ----
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def fault(self, p):
        """A deliberate fault, only in the requests chosen to carry faults."""
        return self.faulty and self.r.random() < p * self.scale

    def oddcase(self, name):
        k = self.r.randrange(4)
        if k == 0:
            return name.upper()
        if k == 1:
            return name.lower()
        return bytes(c ^ 0x20 if 0x41 <= (c & 0xDF) <= 0x5A and self.chance(0.5) else c
                     for c in name)

    # ---- the grammar ----
    def body_framing(self, body, fields):
        """Adds framing fields for `body`; returns the bytes that follow the head."""
        r = self.r
        k = r.randrange(20)
        if not self.fault(1.0) or k < 9:
            fields.append((b"Content-Length", str(len(body)).encode()))
            return body
        if not self.fault(1.0) or k < 14:
            fields.append((b"Transfer-Encoding", self.pick([b"chunked", b"chunked", b"Chunked",
                                                            b" chunked "])))
            return self.chunked(body)
        faults = [
            lambda: fields.append((b"Content-Length", b"+%d" % len(body))),
            lambda: fields.append((b"Content-Length", b"%dx" % len(body))),
            lambda: fields.append((b"Content-Length", b"-1")),
            lambda: fields.append((b"Content-Length", b"%d, %d" % (len(body), len(body)))),
            lambda: fields.extend([(b"Content-Length", b"%d" % len(body)),
                                   (b"Content-Length", b"%d" % (len(body) + 1))]),
            lambda: fields.extend([(b"Content-Length", b"%d" % len(body)),
                                   (b"Content-Length", b"%d" % len(body))]),
            lambda: fields.append((b"Content-Length", b"99999999999999999999999")),
            lambda: fields.append((b"Content-Length", b"%d" % max(0, len(body) - 3))),
            lambda: fields.append((b"Content-Length", b"%d" % (len(body) + 7))),
            lambda: fields.extend([(b"Content-Length", b"%d" % len(body)),
                                   (b"Transfer-Encoding", b"chunked")]),
            lambda: fields.append((b"Transfer-Encoding", self.pick(
                [b"chunked, identity", b"identity, chunked", b"gzip, chunked", b"xchunked",
                 b"chunked\x0b", b"chunked, chunked", b"", b"identity"]))),
            lambda: fields.append((b"Transfer-Encoding ", b"chunked")),
            lambda: fields.append((b"Transfer_Encoding", b"chunked")),
        ]
        self.pick(faults)()
        return self.chunked(body) if any(b"chunked" in v for n, v in fields) else body

    def chunked(self, body):
        out = b""
        i = 0
        broken = self.fault(0.25)
        while i < len(body):
            n = self.r.randint(1, max(1, len(body) - i))
            size = b"%x" % n
            if self.chance(0.15):
                size = size.upper() if self.chance(0.5) else b"0" * self.r.randint(1, 20) + size
            ext = b""
            if self.chance(0.2):
                ext = self.pick([b";a=b", b";q=\"x y\"", b"; ext"] + ([b";" + b"e" * 3000,
                                 b";a=\"unterminated"] if self.fault(1) else []))
            out += size + ext + b"\r\n" + body[i:i + n] + b"\r\n"
            i += n
        last = b"0\r\n"
        if self.chance(0.2):
            last += self.pick([b"X-Trailer: t\r\n", b"Content-Length: 5\r\n"] +
                              ([b"bad trailer\r\n"] if self.fault(1) else []))
        out += last + b"\r\n"
        if broken:
            faults = [(b"\r\n", b"\n"), (b"0\r\n", b"zz\r\n"), (b"\r\n0\r\n", b"0\r\n"),
                      (b"\r\n", b""), (b"0\r\n\r\n", b"0\r\n"), (b"\r\n", b"\r\r\n")]
            a, b = self.pick(faults)
            if self.chance(0.5):
                out = out.replace(a, b, 1)
            else:
                out = self.pick([b"-1", b"0x5", b"fffffffffffffffffff", b"5 5", b" 5"]) + \
                    b"\r\nhello\r\n0\r\n\r\n"
        return out

    def request(self):
        r = self.r
        method = self.pick([b"GET"] * 4 + [b"HEAD"] * 2 + [b"POST"] * 3 + [b"PUT", b"OPTIONS"])
        if self.fault(0.03):
            method = self.pick([b"DELETE", b"PATCH", b"get", b"G ET", b"", b"PRI", b"CONNECT"])
        target = self.pick(PATHS)
        if method == b"OPTIONS" and self.chance(0.3):
            target = b"*"
        if self.chance(0.08):
            target = self.pick([b"http://localhost", b"http://other:8000", b"HTTP://localhost"]) + \
                target
        version = b"HTTP/1.1"
        if self.fault(0.06):
            version = self.pick([b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.10", b"HTTP/2.0", b"http/1.1",
                                 b"HTTP/1.1 ", b"HTTP/1", b"HTTP/1.2", b"HTTP/01.1"])
        fields = []
        host = [(b"Host", b"localhost")]
        if self.fault(0.1):
            host = self.pick([[], [(b"Host", b"localhost"), (b"Host", b"other")],
                              [(b"Host", b"")], [(b"Host", b"a b")], [(b"Host", b"127.0.0.1:8000")],
                              [(b"Host", b"localhost"), (b"Host", b"localhost")]])
        fields += host
        if self.chance(0.3):
            fields.append((b"User-Agent", b"streamfuzz/1"))
        if self.chance(0.2):
            fields.append((b"Accept", b"*/*"))
        if self.chance(0.1):
            fields.append((b"Cookie", self.pick([b"csrftoken=abc", b"sessionid=x.y.z", b"a=b; ;c"])))
        if self.chance(0.1):
            fields.append((b"Connection", self.pick([b"keep-alive", b"close", b"Upgrade",
                                                     b"keep-alive, close"])))
        if self.chance(0.04):
            fields += [(b"Connection", b"Upgrade"), (b"Upgrade", self.pick([b"h2c", b"foo/1", b"websocket, h2c"]))]
        if self.chance(0.08):
            fields.append((b"Expect", self.pick([b"100-continue", b"100-Continue", b"200-ok"])))
        body = b""
        if method in (b"POST", b"PUT") or self.chance(0.08):
            body = self.pick([b"message=hello", b"{}", b"", b"x" * r.randint(1, 3000),
                              bytes(r.randrange(256) for _ in range(r.randint(1, 64)))])
            body = self.body_framing(body, fields)
        head = self.render(method, target, version, fields)
        return head + body

    def render(self, method, target, version, fields):
        r = self.r
        eol = b"\r\n"
        line = method + b" " + target + b" " + version
        if self.fault(0.02):
            line = method + b" " + target + b"?" + b"a" * r.randint(8000, 70000) + b" " + version
        if self.fault(0.02):
            line = line.replace(b" ", self.pick([b"  ", b"\t", b" \x0b"]), 1)
        out = line + (b"\n" if self.fault(0.03) else eol)
        if self.fault(0.02):
            fields.append((b"X-Big", b"b" * r.randint(4000, 70000)))
        if self.fault(0.02):
            fields += [(b"X-Many-%d" % i, b"v") for i in range(r.randint(50, 300))]
        r.shuffle(fields) if self.chance(0.2) else None
        for name, value in fields:
            if self.chance(0.15):
                name = self.oddcase(name)
            sep = b": "
            if self.fault(0.1):
                sep = self.pick([b":", b":   ", b":\t", b" :", b"\t:", b": \t "])
            if self.fault(0.03):
                value = value + self.pick([b"\x00", b"\x01", b"\x7f", b"\r", b"\xff"]) + value
            if self.fault(0.02):
                value = value + b"\r\n " + b"folded"
            out += name + sep + value + (b"\n" if self.fault(0.03) else eol)
        return out + (b"\n" if self.fault(0.02) else eol)

    def ws_request(self):
        fields = [(b"Host", b"localhost"), (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
                  (b"Sec-WebSocket-Key", KEY), (b"Sec-WebSocket-Version", b"13")]
        if self.fault(0.6):
            i = self.r.randrange(len(fields))
            n, v = fields[i]
            alt = {
                b"Host": [b"other", b""],
                b"Upgrade": [b"WebSocket", b"WEBSOCKET", b"websocket, h2c", b"h2c", b"web socket",
                             b""],
                b"Connection": [b"upgrade", b"keep-alive, Upgrade", b"UPGRADE", b"close", b"keep-alive"],
                b"Sec-WebSocket-Key": [b"abc", base64.b64encode(b"x" * 20), b"!" * 24, b"",
                                       base64.b64encode(bytes(self.r.randrange(256) for _ in range(16)))],
                b"Sec-WebSocket-Version": [b"8", b"13, 8", b"013", b"", b"14"],
            }[n]
            choice = self.pick(alt + [None])
            if choice is None:
                del fields[i]
            else:
                fields[i] = (n, choice)
        if self.chance(0.15):
            fields.append((b"Sec-WebSocket-Extensions",
                           b", ".join([b"permessage-deflate; client_max_window_bits"] *
                                      self.r.randint(1, 400))))
        if self.chance(0.1):
            fields.append((b"Origin", self.pick([b"http://localhost", b"http://evil.example"])))
        if self.chance(0.1):
            fields.append((b"Sec-WebSocket-Key", KEY))
        method = b"GET" if self.chance(0.95) else b"POST"
        return self.render(method, self.pick(WS_PATHS), b"HTTP/1.1", fields)

    def frames(self):
        out = b""
        for _ in range(self.r.randint(0, 4)):
            op, payload = self.pick([(1, json.dumps({"message": "hi"}).encode()), (9, b"p"),
                                     (8, b"\x03\xe8"), (2, b"\x00\x01"), (1, b"\xff\xfe"),
                                     (0, b"cont"), (1, b"x" * 300)])
            fin = 0x80 if self.chance(0.9) else 0
            masked = self.chance(0.93)
            key = bytes(self.r.randrange(256) for _ in range(4))
            n = len(payload)
            hdr = bytes([fin | op])
            m = 0x80 if masked else 0
            if n < 126:
                hdr += bytes([m | n])
            else:
                hdr += bytes([m | 126]) + n.to_bytes(2, "big")
            if masked:
                hdr += key
                payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            out += hdr + payload
        if self.chance(0.05):
            out += b"\x81\xff" + b"\x7f" * 8   # 2^63-ish length
        return out

    def grammar_stream(self):
        # 40% of streams clean, 40% with faults in one request, 20% faults anywhere.
        n = self.r.randint(2, 8)
        mode = self.r.randrange(10)
        bad = self.r.randrange(n + 1) if mode < 8 else -1
        self.scale = 1.0 if mode < 8 else 0.5
        data = b""
        for i in range(n + 1):
            self.faulty = mode >= 8 or (mode >= 4 and i == bad)
            if i < n:
                data += self.request()
            elif self.chance(0.2):
                data += self.ws_request()
                self.faulty = True
                data += self.frames() if self.chance(0.7) else self.request()
        self.faulty, self.scale = True, 1.0
        return data

    # ---- mutation ----
    def mutate(self, data):
        r = self.r
        data = bytearray(data)
        for _ in range(r.randint(1, 5)):
            if not data:
                data += self.pick(INTERESTING)
                continue
            k = r.randrange(9)
            i = r.randrange(len(data))
            if k == 0:
                data[i] ^= 1 << r.randrange(8)
            elif k == 1:
                data[i:i] = bytes([r.randrange(256)])
            elif k == 2:
                data[i:i] = self.pick(INTERESTING)
            elif k == 3:
                del data[i:i + r.randint(1, 8)]
            elif k == 4:
                j = min(len(data), i + r.randint(1, 64))
                data[j:j] = data[i:j]
            elif k == 5:
                j = data.find(b"\r\n", i)
                if j > 0:
                    del data[i:j]
            elif k == 6:
                other = self.pick(self.corpus).data if self.corpus else self.grammar_stream()
                cut = self._boundary(data)
                ocut = self._boundary(other)
                data = data[:cut] + bytearray(other[ocut:])
            elif k == 7:
                j = i
                while j < len(data) and 0x30 <= data[j] <= 0x39:
                    j += 1
                data[i:j] = str(self.pick([0, 1, 2, 5, 7, 65535, 2 ** 31, 2 ** 64])).encode()
            else:
                j = min(len(data), i + r.randint(1, 32))
                data[i:j] = bytes(c ^ 0x20 if 0x41 <= (c & 0xDF) <= 0x5A else c for c in data[i:j])
        return bytes(data)

    def _boundary(self, data):
        if self.chance(0.5):
            marks = [i + 2 for i in range(len(data) - 1) if data[i:i + 2] == b"\r\n"]
            if marks:
                return self.pick(marks)
        return self.r.randrange(len(data) + 1)

    # ---- delivery ----
    def delivery(self, data):
        r = self.r
        n = len(data)
        k = r.randrange(20)
        splits = []
        if n > 1:
            if k < 7:
                splits = []
            elif k < 10 and n <= 1500:
                splits = list(range(1, n))
            elif k < 16:
                splits = sorted(r.sample(range(1, n), min(n - 1, r.randint(1, 20))))
            else:
                marks = [i + 2 for i in range(n - 1) if data[i:i + 2] == b"\r\n"]
                splits = sorted(set(m + r.choice((-1, 0, 1)) for m in marks if self.chance(0.5)))
        delays = []
        chunks = len([s for s in splits if 0 < s < n]) + 1
        if self.chance(0.3) and chunks > 1:
            delays = [0] * chunks
            for _ in range(min(chunks, r.randint(1, 10))):
                delays[r.randrange(chunks)] = r.randint(1, 25)
        end = self.pick(["wait"] * 10 + ["shut_wr"] * 7 + ["abandon"] * 3)
        if end == "abandon" and n > 1 and self.chance(0.5):
            data = data[:r.randrange(1, n)]
        return Case(data, splits, delays, end)

    def next(self):
        if self.corpus and self.chance(0.4):
            base = self.pick(self.corpus).data if self.chance(0.6) else self.grammar_stream()
            data = self.mutate(base)
        else:
            data = self.grammar_stream()
        return self.delivery(data)
