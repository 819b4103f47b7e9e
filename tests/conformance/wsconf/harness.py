"""Cases, the target they run against, and the judge.

A case is an id ("5.6"), a title and a function of the target (`Target`)
returning a Result. Most cases are one `exchange()`: open a connection,
write some bytes, then judge what came back against the expected messages
and pongs and an expected ending:

  Open()            the server must keep the connection open; the suite
                    then closes it with 1000 and expects 1000 back
  Fail(code)        the server must fail the connection (RFC 6455 7.1.7):
                    OK with a close frame carrying `code` then TCP close;
                    NON-STRICT when it closes without a close frame or with
                    another code (the RFC allows both); FAILED when it
                    answers anything it must not or stays open
  Closing(codes)    the suite sent a close frame: the server must answer
                    with one of `codes` (None: a close frame without
                    status) and close TCP

Messages are compared in order, pongs in order; the two streams are
compared separately since a pong may overtake an echo ("as soon as is
practical", RFC 6455 5.5.3).
"""
import time

from . import wire

OK, NON_STRICT, FAILED = "OK", "NON-STRICT", "FAILED"
RANK = {OK: 0, NON_STRICT: 1, FAILED: 2}


class Result:
    def __init__(self, verdict, detail=""):
        self.verdict, self.detail = verdict, detail

    def worse(self, verdict, detail):
        """Keeps the worst verdict; details accumulate."""
        if RANK[verdict] > RANK[self.verdict]:
            self.verdict = verdict
        if detail:
            self.detail = f"{self.detail}; {detail}" if self.detail else detail
        return self


class Case:
    def __init__(self, cid, title, fn):
        self.id, self.title, self.fn = cid, title, fn


class Target:
    """Where the cases connect, and what that server promises.

    max_message: bytes of the largest message it takes (None: no limit we
    hit); rate, burst: its per-connection message rate limit (0: none);
    quick: shorter large cases (sanitizer builds).

    promises: what the target promises beyond RFC 6455, which turns the
    matching NON-STRICT outcomes into FAILED:
      "pong-per-ping"   every ping gets its own pong, even when several
                        arrive at once (5.5.3 allows answering only the
                        most recent one)
      "utf8-fail-fast"  a text message is failed 1007 as soon as the bytes
                        received cannot be the start of valid UTF-8, even
                        inside a frame (8.1 says that it must fail, not how
                        early)"""

    PROMISES = ("pong-per-ping", "utf8-fail-fast")

    def __init__(self, name, host, port, path, max_message=None, rate=0, burst=0,
                 promises=(), quick=False):
        self.name, self.host, self.port, self.path = name, host, port, path
        self.max_message, self.rate, self.burst = max_message, rate, burst
        self.promises, self.quick = frozenset(promises), quick

    def connect(self, **handshake):
        c = wire.Conn(self.host, self.port, self.path)
        try:
            c.handshake(**handshake)
        except BaseException:
            c.close()
            raise
        return c

    def too_big(self, n):
        return self.max_message is not None and n > self.max_message


class Open:
    pass


class Fail:
    def __init__(self, code, fast=False, prefix=False):
        """fast: the case writes the rest of the message after a Probe; the
        server must have failed at the probe. prefix: the server may echo
        any prefix of the expected messages before failing (limits)."""
        self.code, self.fast, self.prefix = code, fast, prefix


class Closing:
    """codes: the answers that are OK (None: a close frame without status).
    Another answer is NON-STRICT (5.5.1: the code is "typically" echoed),
    except an error code (1002, 1003, 1007, 1011: the server failed a close
    the RFC allows), which is FAILED unless error_ok (NON-STRICT)."""

    ERRORS = (1002, 1003, 1007, 1011)

    def __init__(self, *codes, error_ok=False):
        self.codes, self.error_ok = codes, error_ok


class Pause:
    """A step of exchange(): sleep `s` seconds (reading what arrives)."""

    def __init__(self, s):
        self.s = s


class Probe:
    """A step of exchange(): wait up to `s` s for the server to end the
    connection (a fail-fast check); remembers whether it did."""

    def __init__(self, s=1.0):
        self.s = s


def _drain_until(conn, pred, timeout):
    """Reads events until pred() is true, the connection ended, or timeout."""
    deadline = time.monotonic() + timeout
    while not pred() and not conn.ended:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if conn.next_event(left) is None and not conn.ended:
            return pred()
    return pred()


def _data(events):
    msgs = [e for e in events if e[0] in ("text", "binary")]
    pongs = [e[1] for e in events if e[0] == "pong"]
    return msgs, pongs


def _short(b, n=24):
    b = bytes(b)
    return repr(b[:n]) + (f"..({len(b)} B)" if len(b) > n else "")


def _compare(got, want, what, prefix=False):
    if prefix and len(got) <= len(want):
        want = want[:len(got)]
    if len(got) != len(want):
        return f"{len(got)} {what}, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            if isinstance(g, tuple):
                return (f"{what} {i}: got {g[0]} {_short(g[1])}, expected {w[0]} "
                        f"{_short(w[1])}")
            return f"{what} {i}: got {_short(g)}, expected {_short(w)}"
    return None


def _close_events(events):
    return [e for e in events if e[0] == "close"]


def exchange(target, writes, expect=(), pongs=(), outcome=None, chop=None, delay=0.0,
             timeout=3.0, conn=None, pings_at_once=False):
    """Opens a connection (unless given one), writes each element of
    `writes` (bytes: one write, or `chop`-byte writes with `delay` between
    them; Pause/Probe: wait), then judges. `expect`: the messages as
    ('text'|'binary', bytes); `pongs`: the pong payloads. pings_at_once:
    the pings may reach the server together, so by RFC 6455 5.5.3 pongs
    for only some of them, ending with the last, are NON-STRICT (FAILED
    when the target promises "pong-per-ping")."""
    outcome = outcome or Open()
    if conn is None:
        try:
            conn = target.connect()
        except (OSError, wire.HandshakeError) as e:
            return Result(FAILED, f"handshake: {e}")
    try:
        probed = None
        for w in writes:
            if isinstance(w, Pause):
                _drain_until(conn, lambda: False, w.s)
            elif isinstance(w, Probe):
                probed = _drain_until(conn, lambda: False, w.s) or conn.ended
            else:
                conn.send(w, chop=chop, delay=delay)
        return _judge(target, conn, list(expect), list(pongs), outcome, timeout, probed,
                      pings_at_once)
    finally:
        conn.close()


def _is_latest_subsequence(got, want):
    """got is want with some elements left out, keeping the last."""
    if not got or not want or got[-1] != want[-1]:
        return False
    it = iter(want)
    return all(any(g == w for w in it) for g in got)


def _judge(target, conn, expect, pongs, outcome, timeout, probed, pings_at_once):
    want_data = len(expect) + len(pongs)

    def data_count():
        m, p = _data(conn.events)
        return len(m) + len(p)

    sent_close = False
    if isinstance(outcome, Open):
        _drain_until(conn, lambda: data_count() >= want_data or _close_events(conn.events),
                     timeout)
        if not conn.ended and not _close_events(conn.events):
            # Everything expected is in (or the time is up): end politely.
            conn.send(wire.close_frame(1000))
            sent_close = True
            _drain_until(conn, lambda: False, 3.0)
    else:
        _drain_until(conn, lambda: bool(_close_events(conn.events)), timeout)
        closes = _close_events(conn.events)
        if closes and isinstance(outcome, Fail) and not conn.ended:
            # The server closed first: answer its close frame (RFC 6455
            # 5.5.1), then give it the time to close TCP.
            code = closes[0][1]
            conn.send(wire.close_frame(code) if code else wire.close_frame())
            _drain_until(conn, lambda: False, timeout)
        elif closes and not conn.ended:
            _drain_until(conn, lambda: False, timeout)

    events = conn.events
    res = Result(OK)
    bad = [e[1] for e in events if e[0] == "bad-frame"]
    if bad:
        res.worse(FAILED, bad[0])
    # What the server answered before its close frame (or TCP close).
    first_close = next((i for i, e in enumerate(events) if e[0] in ("close", "eof", "reset")),
                       len(events))
    before = events[:first_close]
    after = [e for e in events[first_close:] if e[0] in ("text", "binary", "pong")]
    msgs, got_pongs = _data(before)
    prefix = isinstance(outcome, Fail) and outcome.prefix
    diff = _compare(msgs, expect, "messages", prefix)
    if diff and not isinstance(outcome, Open) and not _compare(msgs, expect, "", True):
        # Messages that arrived with the frame that fails the connection
        # (7.1.7: process nothing more) or with the close frame (5.5.1:
        # answer it, "MAY delay" until the current message is sent) may die
        # with the connection before the application echoes them.
        res.worse(NON_STRICT, f"{len(msgs)} of the {len(expect)} echoes before the close")
    elif diff:
        res.worse(FAILED, diff)
    diff = _compare(got_pongs, pongs, "pongs")
    if diff and pings_at_once and _is_latest_subsequence(got_pongs, pongs):
        promised = "pong-per-ping" in target.promises
        res.worse(FAILED if promised else NON_STRICT,
                  f"{len(got_pongs)} pongs for {len(pongs)} pings, the last one answered "
                  + ("(the target promises one pong per ping)" if promised else
                     "(RFC 6455 5.5.3 allows answering only the most recent)"))
    elif diff:
        res.worse(FAILED, diff)
    if after:
        res.worse(FAILED, f"{after[0][0]} after the close frame")

    closes = _close_events(events)
    ended = conn.ended
    if isinstance(outcome, Open):
        if not sent_close:
            what = f"close {closes[0][1]} {_short(closes[0][2])}" if closes else "TCP close"
            return res.worse(FAILED, f"server ended the connection ({what})")
        if not closes:
            res.worse(NON_STRICT if ended else FAILED,
                      "no close frame in answer to ours" if ended else
                      "no answer to our close in 3 s")
        elif closes[0][1] != 1000:
            res.worse(NON_STRICT, f"answered our close 1000 with {closes[0][1]}")
        elif not ended:
            res.worse(NON_STRICT, "TCP not closed by the server after the closing handshake "
                      "(RFC 6455 7.1.1)")
        return res
    if isinstance(outcome, Closing):
        if not closes:
            return res.worse(NON_STRICT if ended else FAILED,
                             "TCP closed without a close frame" if ended else
                             f"no close frame in {timeout:g} s")
        code = closes[0][1]
        if code not in outcome.codes:
            failed = code in Closing.ERRORS and not outcome.error_ok
            res.worse(FAILED if failed else NON_STRICT,
                      f"answered with close {code}, expected "
                      f"{' or '.join(str(c) for c in outcome.codes)}")
        if not ended:
            res.worse(NON_STRICT, "TCP not closed by the server after the closing handshake "
                      "(RFC 6455 7.1.1)")
        return res
    # Fail
    if not ended and not closes:
        return res.worse(FAILED, f"connection still open after {timeout:g} s "
                         f"(expected close {outcome.code})")
    if outcome.fast and probed is False:
        late = "failed only after the rest of the message was sent" + (
            " (the target promises UTF-8 fail-fast)" if "utf8-fail-fast" in target.promises
            else "")
        # RFC 6455 8.1 says a text message that is not UTF-8 fails the
        # connection, not how early: failing at the end of the frame is
        # allowed (NON-STRICT) unless the target promises fail-fast.
        res.worse(FAILED if "utf8-fail-fast" in target.promises else NON_STRICT, late)
    if not closes:
        res.worse(NON_STRICT, f"TCP closed without a close frame (expected {outcome.code})")
    elif closes[0][1] != outcome.code:
        res.worse(NON_STRICT, f"close {closes[0][1]}, expected {outcome.code}")
    elif not ended:
        res.worse(NON_STRICT, f"close {outcome.code} but TCP still open after {timeout:g} s")
    return res
