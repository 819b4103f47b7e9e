"""RFC 6455 on a raw socket, client side: the handshake, frames built byte
for byte (masked with a fresh random key each, RFC 6455 5.3), and a reader
that turns what the server sends into events.

Nothing here judges the server: it records what happened (events, with the
time they arrived) and the cases decide. The only judgement is on the
server's own frames, which must be well formed (RFC 6455 5.1-5.2: unmasked,
no reserved bits, known opcodes, control frames unfragmented and <= 125
bytes): a malformed one is recorded as a 'bad-frame' event.
"""
import base64
import hashlib
import os
import select
import socket
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def mask_bytes(payload, key):
    """XORs `payload` with the 4-byte `key` repeated (RFC 6455 5.3): each of
    the 4 byte columns through a translation table (C speed)."""
    n = len(payload)
    if n < 64:
        return bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    out = bytearray(n)
    for j in range(4):
        table = bytes(b ^ key[j] for b in range(256))
        out[j::4] = payload[j::4].translate(table)
    return bytes(out)


def _xor(a, b):
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, key=None):
    """One client frame: FIN, RSV (0..7), opcode, the shortest length
    encoding, a fresh random mask key (or `key`) and the masked payload."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    head = _head((0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF), len(payload))
    if not masked:
        return bytes([head[0], head[1] & 0x7F]) + head[2:] + payload
    key = key if key is not None else os.urandom(4)
    return bytes(head) + key + mask_bytes(payload, key)


def close_frame(code=None, reason=b"", **kw):
    """A close frame: no payload when `code` is None; `code` may be any
    16-bit value and `reason` any bytes (the cases send invalid ones)."""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    body = b"" if code is None else code.to_bytes(2, "big") + reason
    return frame(CLOSE, body, **kw)


def _head(b0, n):
    if n <= 125:
        return bytes([b0, 0x80 | n])
    if n <= 0xFFFF:
        return bytes([b0, 0x80 | 126]) + n.to_bytes(2, "big")
    return bytes([b0, 0x80 | 127]) + n.to_bytes(8, "big")


def fragments(opcode, payload, size):
    """`payload` as a fragmented message of `size`-byte fragments (the
    last one may be shorter), each masked with its own random key."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload)
    if n <= size:
        return frame(opcode, payload)
    count = n // size
    if size % 4 or size > 1024 or count < 3 or n % size:
        return b"".join(frame(opcode if off == 0 else CONT, payload[off:off + size],
                              fin=off + size >= n) for off in range(0, n, size))
    # Many equal fragments: built column by column. Frame i is head_i,
    # key_i, payload[i*size:(i+1)*size] ^ key_i; byte j of every frame is
    # one strided slice of the output, so the work is a few C-level copies
    # and XORs per column instead of Python work per fragment.
    mid = _head(CONT, size)
    hl = len(mid)
    stride = hl + 4 + size
    keys = os.urandom(4 * count)
    out = bytearray(count * stride)
    for j in range(hl):
        out[j::stride] = mid[j:j + 1] * count
    for j in range(4):
        out[hl + j::stride] = keys[j::4]
    for j in range(size):
        out[hl + 4 + j::stride] = _xor(payload[j::size], keys[j % 4::4])
    out[0:hl] = _head(opcode, size)
    out[(count - 1) * stride:(count - 1) * stride + hl] = _head(0x80 | CONT, size)
    return bytes(out)


class HandshakeError(Exception):
    pass


class Conn:
    """One client connection. Events (tuples, in arrival order):
      ('text', bytes) ('binary', bytes)   a whole message (fragments joined)
      ('ping', bytes) ('pong', bytes)
      ('close', code or None, reason bytes)
      ('eof',) ('reset',)                 the TCP connection ended
      ('bad-frame', why)                  the server broke RFC 6455 5.1-5.2
    """

    def __init__(self, host, port, path, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host, self.port, self.path = host, port, path
        self.buf = bytearray()
        self.pos = 0
        self.events = []
        self.taken = 0          # events already handed out by next_event()
        self.ended = False      # EOF or reset seen
        self.frag_op = None     # opcode of the message being assembled
        self.frag = []
        self.send_error = None  # the errno name when a send failed (peer gone)

    # ---- handshake ----

    def handshake(self, upgrade="websocket", connection="Upgrade", version="13", key=True,
                  extra=(), lower_names=False):
        """Sends the opening handshake and reads the response head. Returns
        (status, headers dict with lower-case names). Raises HandshakeError
        when the response is not 101 or its Sec-WebSocket-Accept is wrong,
        unless `check` cases call raw_handshake() instead."""
        status, headers, sent_key = self.raw_handshake(upgrade, connection, version, key, extra,
                                                       lower_names)
        if status != 101:
            raise HandshakeError(f"HTTP {status} instead of 101")
        problem = check_101(headers, sent_key)
        if problem:
            raise HandshakeError(problem)
        return status, headers

    def raw_handshake(self, upgrade="websocket", connection="Upgrade", version="13", key=True,
                      extra=(), lower_names=False):
        sent_key = base64.b64encode(os.urandom(16)).decode() if key else None
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        fields = []
        if upgrade is not None:
            fields.append(("Upgrade", upgrade))
        if connection is not None:
            fields.append(("Connection", connection))
        if sent_key:
            fields.append(("Sec-WebSocket-Key", sent_key))
        if version is not None:
            fields.append(("Sec-WebSocket-Version", version))
        fields += list(extra)
        for name, value in fields:
            lines.append(f"{name.lower() if lower_names else name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        deadline = time.monotonic() + 5.0
        while b"\r\n\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HandshakeError("no complete response head in 5 s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise HandshakeError(f"handshake: {e}") from e
            if not chunk:
                raise HandshakeError("connection closed during the handshake")
            self.buf += chunk
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[:end + 4]
        parts = head[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise HandshakeError(f"bad status line {head[0]!r}") from None
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, sent_key

    # ---- sending ----

    def send(self, data, chop=None, delay=0.0):
        """Writes `data` in one write, or in `chop`-byte writes (TCP_NODELAY:
        one segment each) with `delay` s between them. Whatever the server
        sends meanwhile is read into the event list, so a big exchange
        cannot deadlock. A failed write (the server closed: EPIPE,
        ECONNRESET) is recorded in send_error, not raised: the cases then
        look at what the server said before it closed."""
        if self.send_error:
            return False
        view = memoryview(data)
        step = chop or len(view) or 1
        self.sock.setblocking(False)
        try:
            for off in range(0, len(view), step):
                piece = view[off:off + step]
                while piece:
                    try:
                        n = self.sock.send(piece)
                        piece = piece[n:]
                        continue
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        self.send_error = type(e).__name__
                        return False
                    # Our send buffer is full: read what the server sends
                    # meanwhile (it may be waiting for us to read).
                    r, w, _ = select.select([self.sock], [self.sock], [], 10.0)
                    if r:
                        self._read_some()
                    if not r and not w:
                        self.send_error = "send stalled for 10 s"
                        return False
                if delay and off + step < len(view):
                    time.sleep(delay)
        finally:
            self.sock.setblocking(True)
        return True

    # ---- receiving ----

    def _read_some(self):
        """One recv into the buffer, parsed into events. False once ended."""
        if self.ended:
            return False
        try:
            chunk = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        except ConnectionResetError:
            self.ended = True
            self.events.append(("reset",))
            return False
        if not chunk:
            self.ended = True
            self._parse()
            self.events.append(("eof",))
            return False
        self.buf += chunk
        self._parse()
        return True

    def next_event(self, timeout):
        """The next event not yet taken, or None after `timeout` s."""
        deadline = time.monotonic() + timeout
        while self.taken >= len(self.events):
            if self.ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._read_some()
        ev = self.events[self.taken]
        self.taken += 1
        return ev

    def _parse(self):
        buf, pos = self.buf, self.pos
        while True:
            if len(buf) - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            hl = 2
            if n == 126:
                hl = 4
            elif n == 127:
                hl = 10
            if b1 & 0x80:
                hl += 4
            if len(buf) - pos < hl:
                break
            if n == 126:
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
            elif n == 127:
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
            if len(buf) - pos < hl + n:
                break
            payload = bytes(buf[pos + hl:pos + hl + n])
            pos += hl + n
            self._frame(b0, b1, payload)
        if pos > (1 << 20) or pos == len(buf):
            del buf[:pos]
            pos = 0
        self.pos = pos

    def _frame(self, b0, b1, payload):
        fin, rsv, op = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        bad = None
        if b1 & 0x80:
            bad = "masked server frame (RFC 6455 5.1)"
        elif rsv:
            bad = f"server frame with RSV {rsv}"
        elif op not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
            bad = f"server frame with opcode {op}"
        elif op >= 8 and (not fin or len(payload) > 125):
            bad = "fragmented or long server control frame"
        if bad:
            self.events.append(("bad-frame", bad))
            return
        if op == PING:
            self.events.append(("ping", payload))
        elif op == PONG:
            self.events.append(("pong", payload))
        elif op == CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            self.events.append(("close", code, payload[2:]))
        elif op == CONT:
            if self.frag_op is None:
                self.events.append(("bad-frame", "server continuation without a message"))
                return
            self.frag.append(payload)
            if fin:
                self._message(self.frag_op, b"".join(self.frag))
                self.frag_op, self.frag = None, []
        else:
            if self.frag_op is not None:
                self.events.append(("bad-frame", "server started a message inside another"))
                return
            if fin:
                self._message(op, payload)
            else:
                self.frag_op, self.frag = op, [payload]

    def _message(self, op, payload):
        if op == TEXT:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                self.events.append(("bad-frame", "server text message is not UTF-8"))
                return
        self.events.append(("text" if op == TEXT else "binary", payload))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def check_101(headers, sent_key):
    """What is wrong with a 101 response (RFC 6455 4.2.2 item 5), or None."""
    if headers.get("upgrade", "").lower() != "websocket":
        return f"101 with Upgrade: {headers.get('upgrade')!r}"
    if "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
        return f"101 with Connection: {headers.get('connection')!r}"
    want = base64.b64encode(hashlib.sha1(sent_key.encode() + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != want:
        return f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, want {want!r}"
    if "sec-websocket-extensions" in headers:
        return f"an extension nobody offered: {headers['sec-websocket-extensions']!r}"
    return None
