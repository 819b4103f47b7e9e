"""runner.py - delivers one case on a fresh TCP connection and checks the invariants.

deliver() sends the chunks with their delays while reading whatever comes
back (one non-blocking socket and select(): the server may answer a
pipelined request while we still send, and must never be blocked by us
not reading), then ends the way the case says: "wait" (keep our side open
until the server closes, or has answered all it may and is quiet, or is
quiet for idle_ms), "shut_wr" (half-close, then read to EOF or quiet) or
"abandon" (close at once).

check_stream() holds the per-stream invariants; check_server() the ones
about the server after the stream (alive, /healthz on another connection,
stderr clean, no log flood, not spinning).
"""
import collections
import re
import errno
import select
import socket
import time

from reqref import parse_requests
from respcheck import parse_responses
from server import SANITIZER, log_key


class Outcome:
    def __init__(self):
        self.recv = b""
        self.eof = False
        self.reset = False
        self.sent = 0
        self.send_error = None
        self.secs = 0.0


class Failure(Exception):
    def __init__(self, kind, detail):
        super().__init__("%s: %s" % (kind, detail))
        self.kind = kind
        self.detail = detail

    def signature(self):
        """What two failures share when they are the same bug: the kind and the
        first words of the detail with numbers and quoted parts blanked."""
        first = (self.detail or "").strip().splitlines()[0] if self.detail else ""
        if self.kind == "sanitizer":   # the report's first line names the error type
            m = re.search(r"ERROR: \w+Sanitizer: [\w-]+|runtime error: [^:]{0,40}", self.detail)
            first = m.group(0) if m else first
        sig = self.kind + " " + " ".join(log_key(first).split()[:3])
        m = re.search(r"\[error[^\]]*\]", self.detail or "")   # which reference error
        return sig + (" " + " ".join(log_key(m.group(0)).split()[:4]) if m else "")


def _done(case, data, eof, ref):
    """Whether the server has answered all a correct server may answer."""
    res = parse_responses(data, lambda i: i < len(ref.requests) and ref.requests[i].is_head, eof)
    if res.error or res.upgraded:
        return res.error is not None
    f = res.finals
    return len(f) >= ref.response_bound() and f and f[-1].complete and not f[-1].says_close


def deliver(case, port, idle_ms=300, max_ms=8000, ref=None):
    out = Outcome()
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(3)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    last_rx = time.monotonic()

    def pump(until):
        nonlocal last_rx
        while not out.eof:
            left = until - time.monotonic()
            r, _, _ = select.select([s], [], [], max(0.0, left))
            if not r:
                if left <= 0:
                    return
                continue
            try:
                got = s.recv(262144)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                out.eof = out.reset = True
                return
            if not got:
                out.eof = True
                return
            out.recv += got
            last_rx = time.monotonic()

    try:
        for i, chunk in enumerate(case.chunks()):
            if case.delay(i):
                pump(time.monotonic() + case.delay(i) / 1000.0)
            view = memoryview(chunk)
            while view and out.send_error is None:
                _, w, _ = select.select([], [s], [], 0.05)
                if w:
                    try:
                        n = s.send(view)
                        view = view[n:]
                        out.sent += n
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        out.send_error = errno.errorcode.get(e.errno, str(e))
                pump(time.monotonic())
                if time.monotonic() - t0 > max_ms / 1000.0:
                    out.send_error = "server not reading (gave up after %d ms)" % max_ms
            if out.send_error:
                break
        if case.end == "abandon":
            pump(time.monotonic())
        else:
            if case.end == "shut_wr" and out.send_error is None:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            last_rx = time.monotonic()
            hard = time.monotonic() + max_ms / 1000.0
            while not out.eof and time.monotonic() < hard:
                pump(min(hard, time.monotonic() + 0.02))
                quiet = time.monotonic() - last_rx
                if ref is not None and quiet > 0.03 and _done(case, out.recv, out.eof, ref):
                    break
                if quiet > idle_ms / 1000.0:
                    break
    finally:
        s.close()
    out.secs = time.monotonic() - t0
    return out


def check_stream(case, out, oracle=True):
    """Raises Failure on the first broken invariant of this stream, then on a
    difference from the case's expected statuses and fields (also named in
    the detail of an invariant failure)."""
    try:
        ref, res = _invariants(case, out, oracle)
    except Failure as f:
        exp = _expectations(case, parse_responses(out.recv, lambda i: False, out.eof))
        if exp:
            f.detail += "\n(and %s)" % exp.detail
        raise
    exp = _expectations(case, res)
    if exp:
        raise exp
    return ref, res


def _expectations(case, res):
    finals = res.finals
    if case.expect is not None:
        got = [r.status for r in finals]
        want = [e if isinstance(e, list) else [e] for e in case.expect]
        if len(got) != len(want) or any(g not in w for g, w in zip(got, want)):
            return Failure("expected-status", "final statuses %s, the case expects %s"
                           % (got, case.expect))
    if case.expect_headers and finals:
        last = finals[-1]
        for name, value in case.expect_headers:
            vals = [v.decode("latin-1") for v in last.header(name.lower().encode())]
            if value.lower() not in [v.lower() for v in vals]:
                return Failure("expected-header", "last response has %s: %s, the case expects "
                               "%r" % (name, vals or "(none)", value))
    return None


def _invariants(case, out, oracle):
    ref = parse_requests(case.data)
    reqs = ref.requests

    def is_head(i):
        return i < len(reqs) and reqs[i].is_head

    res = parse_responses(out.recv, is_head, out.eof)
    finals = res.finals
    bound = ref.response_bound()
    if res.error:
        done = [r for r in finals if r.complete]
        if len(done) >= bound:   # unreadable bytes after all a correct server may send
            raise Failure("too-many-responses",
                          "%d final responses (%s) and then more bytes (%s) where a correct "
                          "server sends at most %d; the requests as RFC 9112 reads them: %s"
                          % (len(done), " ".join(str(r.status) for r in done), res.error, bound,
                             "; ".join(q.describe() for q in reqs) or "(none)"))
        raise Failure("malformed-response", res.error)
    if len(finals) > bound:
        raise Failure("too-many-responses",
                      "%d final responses (%s) where a correct server sends at most %d; the "
                      "requests as RFC 9112 reads them: %s"
                      % (len(finals), " ".join(str(r.status) for r in finals), bound,
                         "; ".join(q.describe() for q in reqs) or "(none)"))
    for i, r in enumerate(finals):
        q = reqs[i] if i < len(reqs) else None
        if r.status == 101 and (q is None or not q.ws_valid):
            raise Failure("bad-101", "response %d is 101 but request %d is not a valid "
                          "WebSocket handshake: %s" % (i, i, q.describe() if q else "none"))
        if not oracle or q is None:
            continue
        if q.error and q.must and r.status < 400:
            raise Failure("accepted-invalid", "request %d (%s) answered %d; it must be refused "
                          "(%s)" % (i, q.describe(), r.status, "/".join(map(str, sorted(q.expect_status)))))
        if q.complete:
            exp = q.oracle_status()
            if exp and r.status not in exp and r.status != 503 and not (
                    q.ws_valid and r.status in (403, 404)):
                raise Failure("wrong-status", "request %d (%s) answered %d, expected %s"
                              % (i, q.describe(), r.status, "/".join(map(str, sorted(exp)))))
            if r.status >= 500 and r.status not in (501, 503, 505):
                raise Failure("server-error", "valid request %d (%s) answered %d"
                              % (i, q.describe(), r.status))
    for i, r in enumerate(finals[:-1]):
        if r.says_close:
            raise Failure("keep-alive", "response %d says Connection: close, yet response %d "
                          "follows" % (i, i + 1))
    if case.end != "abandon" and finals and finals[-1].complete and not res.upgraded:
        last = finals[-1]
        if (last.says_close or last.framing == "close") and not out.eof:
            raise Failure("keep-alive", "response %d says it closes the connection but the "
                          "connection stayed open" % (len(finals) - 1))
        valid = ref.complete_valid()
        if (out.eof and not last.says_close and last.status < 400 and len(finals) < len(valid)
                and out.send_error is None):
            raise Failure("dropped", "closed after %d responses without Connection: close, "
                          "with %d complete valid requests sent (%s)"
                          % (len(finals), len(valid), "; ".join(q.describe() for q in valid)))
    if (case.end != "abandon" and out.eof and not finals and not res.upgraded
            and out.send_error is None and ref.complete_valid()):
        raise Failure("dropped", "closed without any answer to %d complete valid request(s) "
                      "(%s)" % (len(ref.complete_valid()),
                                "; ".join(q.describe() for q in ref.complete_valid())))
    if out.eof and finals and not finals[-1].complete and case.end != "abandon":
        raise Failure("malformed-response", "connection closed in the middle of response %d "
                      "(status %d)" % (len(finals) - 1, finals[-1].status))
    return ref, res


class ServerWatch:
    """The after-stream checks on one server; keeps the log-flood windows."""

    def __init__(self, server, healthz_s=5.0, flood_window_s=10.0, flood_max=5):
        self.server = server
        self.healthz_s = healthz_s
        self.window = flood_window_s
        self.flood_max = flood_max
        self.seen = collections.defaultdict(collections.deque)

    def check(self, n_requests, spin_check=False):
        srv = self.server
        why = srv.healthz(self.healthz_s) if srv.alive() else None
        time.sleep(0.005)
        log = srv.new_log()
        m = SANITIZER.search(log)
        if m:
            start = log.rfind("\n", 0, max(0, m.start() - 200)) + 1
            raise Failure("sanitizer", log[start:start + 4000])
        if not srv.alive():
            code = srv.proc.returncode if srv.proc else None
            raise Failure("crash", "server exited (status %s); its last stderr:\n%s"
                          % (code, log[-3000:]))
        if why:
            raise Failure("hang", "GET /healthz on a new connection: %s (server CPU while idle: "
                          "%.0f%%)" % (why, 100 * srv.idle_cpu()))
        lines = [l for l in log.splitlines() if l.strip()]
        if len(lines) > max(4, 2 * n_requests):
            raise Failure("log-flood", "%d log lines for one stream of %d requests:\n%s"
                          % (len(lines), n_requests, "\n".join(lines[:12])))
        now = time.monotonic()
        for l in lines:
            q = self.seen[log_key(l)]
            q.append(now)
            while q and q[0] < now - self.window:
                q.popleft()
            if len(q) > self.flood_max:
                raise Failure("log-flood", "the same line %d times within %.0f s (not "
                              "rate-limited; LOG_LIMITED exists for this): %s"
                              % (len(q), self.window, l))
        if spin_check:
            cpu = srv.idle_cpu()
            if cpu > 0.5:
                raise Failure("spin", "server uses %.0f%% of a core with no traffic" % (100 * cpu))
