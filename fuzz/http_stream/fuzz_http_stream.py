#!/usr/bin/env python3
"""fuzz_http_stream.py - whole HTTP/1.1 byte streams against the RUNNING server.

Replay (CI, registered in fuzz/meson.build as suite 'fuzz-http'):
    fuzz/http_stream/fuzz_http_stream.py --server build/apps/channels-server --replay
Long run (humans and the lead; the ASan build's binary):
    fuzz/http_stream/fuzz_http_stream.py --server build-asan/apps/channels-server --minutes 10

Starts channels-server on a free port, sends each stream on a fresh TCP
connection (pipelined requests, split into writes with small delays,
sometimes half-closed or abandoned), and checks invariants per stream, not
only "no crash" (runner.py): well-formed HTTP/1.1 responses, no more than
RFC 9112's reading of the bytes allows (reqref.py), 101 only for a valid
handshake, Connection: close kept, the seed's expected statuses; then the
server alive, answering /healthz on another connection, its stderr free of
sanitizer reports and of lines repeated per request, not spinning. A
failing stream is minimised (each try on a fresh server) and saved under
fuzz/corpus/http_stream/ with its split points; the run stops with a report.

Why Python and not C: the job is I/O over real sockets to a separate
process, so the server, not the driver, sets the pace; the grammar, the
reference parser, the mutators and the minimiser are a fraction of the
code in Python, and python3 is already on every machine that runs the
tests (the interop suite needs it). Standard library only.
"""
import argparse
import os
import random
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from case import Case  # noqa: E402
from reqref import parse_requests  # noqa: E402
from runner import Failure, ServerWatch, check_stream, deliver  # noqa: E402
from server import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(SOURCE_ROOT, "fuzz", "corpus", "http_stream")


def load_corpus(path):
    cases = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".json"):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                cases.append(Case.from_json(f.read(), name))
    return cases


class Harness:
    """One server at a time; restarts it after a death or a hang."""

    def __init__(self, args):
        self.args = args
        self.server = None
        self.watch = None

    def ensure(self):
        if self.server is None or not self.server.alive():
            self.drop()
            self.server = Server(self.args.server, self.args.source_root, self.args.workers,
                                 self.args.log_level)
            self.server.start()
            self.watch = ServerWatch(self.server, self.args.healthz_s)

    def drop(self, graceful=False):
        """Stops the server; returns a LeakSanitizer/sanitizer report seen at exit."""
        report = None
        if self.server is not None:
            if graceful:
                self.server.stop()
                tail = self.server.new_log()
                if "Sanitizer" in tail or "runtime error" in tail:
                    report = tail[-6000:]
            else:
                self.server.kill()
            self.server.cleanup()
        self.server = None
        return report

    def run(self, case, spin_check=False, oracle=True):
        """Delivers the case and runs every check; raises Failure."""
        self.ensure()
        ref = parse_requests(case.data)
        try:
            out = deliver(case, self.server.port, self.args.idle_ms, ref=ref)
        except OSError as e:
            self.watch.check(1)
            raise Failure("connect", str(e))
        fail = None
        try:
            check_stream(case, out, oracle)
        except Failure as f:
            fail = f
        # A dead or wedged server outranks what it sent.
        try:
            self.watch.check(max(1, len(ref.requests)), spin_check)
        except Failure as f:
            if f.kind in ("hang", "spin"):
                self.drop()
            raise f
        if fail:
            raise fail
        return out

    def run_fresh(self, case, oracle=True):
        """The case alone on a new server, stopped gracefully after (leaks count)."""
        self.drop()
        self.ensure()
        self.watch.healthz_s = min(2.0, self.args.healthz_s)   # a wedged server is wedged
        try:
            self.run(case, spin_check=True, oracle=oracle)
        except Failure as f:
            self.drop()
            return f
        report = self.drop(graceful=True)
        return Failure("sanitizer", report) if report else None


def describe(case):
    ref = parse_requests(case.data)
    return ("%d bytes in %d writes, end=%s; requests: %s"
            % (len(case.data), len(case.chunks()), case.end,
               "; ".join(q.describe() for q in ref.requests) or "(none)"))


def replay(args):
    h = Harness(args)
    cases = load_corpus(args.corpus)
    if args.only:
        cases = [c for c in cases if any(o in c.name for o in args.only)]
    failed = []
    t0 = time.monotonic()
    for c in cases:
        try:
            out = h.run(c, spin_check=True, oracle=not args.no_oracle)
            if args.verbose:
                print("ok   %s (%d bytes back, %.2f s)" % (c.name, len(out.recv), out.secs))
        except Failure as f:
            failed.append((c.name, f))
            print("FAIL %s\n     %s: %s" % (c.name, f.kind, f.detail.replace("\n", "\n     ")[:3000]))
            if f.kind in ("sanitizer", "crash"):
                h.drop()
    leak = h.drop(graceful=True)
    if leak:
        failed.append(("(server exit)", Failure("sanitizer", leak)))
        print("FAIL report at server exit:\n" + leak)
    print("%d cases, %d failed, %.1f s" % (len(cases), len(failed), time.monotonic() - t0))
    if failed:
        print("failed: " + " ".join(sorted(set(n for n, _ in failed))))
    return 1 if failed else 0


def minimise(h, case, sig, budget_s):
    """Smaller case failing with the same kind of failure, each try on a fresh server."""
    end = time.monotonic() + budget_s
    tries = 0

    def fails(c):
        nonlocal tries
        tries += 1
        f = h.run_fresh(c)
        return f is not None and f.signature() == sig

    best = case
    # 1. one write, no delays
    if best.splits and time.monotonic() < end:
        c = Case(best.data, [], [], best.end)
        if fails(c):
            best = c
    # 2. whole requests away
    changed = True
    while changed and time.monotonic() < end:
        changed = False
        reqs = parse_requests(best.data).requests
        for q in reversed(reqs):
            if q.end is None or time.monotonic() >= end:
                continue
            data = best.data[:q.start] + best.data[q.end:]
            c = Case(data, _shift(best.splits, q.start, q.end - q.start), [], best.end)
            if data and fails(c):
                best, changed = c, True
                break
    # 3. byte ranges away, halving the range size
    size = max(1, len(best.data) // 4)
    while size >= 1 and time.monotonic() < end:
        i = 0
        while i < len(best.data) and time.monotonic() < end:
            data = best.data[:i] + best.data[i + size:]
            c = Case(data, _shift(best.splits, i, size), [], best.end)
            if data and fails(c):
                best = c
            else:
                i += size
        size //= 2
    # 4. the simplest ending
    if best.end != "wait" and time.monotonic() < end:
        c = Case(best.data, best.splits, [], "wait")
        if fails(c):
            best = c
    best.delays_ms = case.delays_ms[:len(best.chunks())] if best.splits == case.splits else []
    return best, tries


def _shift(splits, at, n):
    return [s if s <= at else s - n for s in splits if not at < s <= at + n]


def fuzz(args):
    from gen import Generator
    rng = random.Random(args.seed)
    corpus = load_corpus(args.corpus)
    gen = Generator(rng, corpus)
    h = Harness(args)
    end = time.monotonic() + args.minutes * 60
    n = 0
    stats = {}
    last_print = time.monotonic()
    recent = []
    seen = set()
    found = 0
    print("seed %d, %d corpus entries, server %s, %s minutes"
          % (args.seed, len(corpus), args.server, args.minutes))
    while time.monotonic() < end and (not args.iterations or n < args.iterations):
        case = gen.next()
        n += 1
        recent = (recent + [case])[-args.spin_every:]
        try:
            out = h.run(case, spin_check=(n % args.spin_every == 0))
            st = out.recv[9:12].decode("latin-1", "replace") if out.recv else "---"
            stats[st] = stats.get(st, 0) + 1
        except Failure as f:
            key = f.signature()
            if not args.keep_going:
                return report_failure(args, h, f, case, recent, n)
            found += 1
            if key not in seen:
                seen.add(key)
                report_failure(args, h, f, case, recent, n)
            recent = []
            continue
        if n % args.restart_every == 0:
            leak = h.drop(graceful=True)
            if leak:
                return report_failure(args, h, Failure("sanitizer", leak), None, recent, n)
        if time.monotonic() - last_print > 10:
            last_print = time.monotonic()
            print("%d streams, first status seen: %s" % (
                n, " ".join("%s:%d" % kv for kv in sorted(stats.items()))), flush=True)
    leak = h.drop(graceful=True)
    if leak:
        return report_failure(args, h, Failure("sanitizer", leak), None, recent, n)
    if args.keep_going:
        print("%d streams, %d failures, %d distinct" % (n, found, len(seen)))
        return 1 if found else 0
    print("no failure in %d streams" % n)
    return 0


def report_failure(args, h, f, case, recent, n):
    print("\n=== FAILURE after %d streams: %s ===\n%s\n" % (n, f.kind, f.detail))
    h.drop()
    candidates = [case] if case is not None else []
    if f.kind in ("spin", "sanitizer", "hang", "crash") or case is None:
        # the culprit may be an earlier stream: the current one first, then back
        candidates += [c for c in reversed(recent) if c is not case]
    culprit = None
    for c in candidates:
        g = h.run_fresh(c)
        if g is not None and (g.signature() == f.signature() or case is None):
            culprit, f = c, g
            break
    if culprit is None and case is None:
        print("not reproduced by any of the last %d streams alone: no entry saved" % len(recent))
        return 1
    if culprit is None:
        culprit = case
        print("(not reproduced on a fresh server: saving the stream as it was)")
        small, tries = culprit, 0
    else:
        small, tries = minimise(h, culprit, f.signature(), args.minimise_s)
    h.drop()
    os.makedirs(args.corpus, exist_ok=True)
    saved = []
    for c, tag in ((culprit, ""), (small, "-min")):
        if tag and c.data == culprit.data and c.splits == culprit.splits:
            continue
        c.comment = "found by fuzz_http_stream.py --seed %d (%s): %s" % (
            args.seed, f.kind, f.detail.splitlines()[0][:300])
        path = os.path.join(args.corpus, "found-%s-%s%s.json" % (f.kind, c.digest(), tag))
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(c.to_json())
        saved.append(path)
    print("stream: %s" % describe(culprit))
    if small is not culprit:
        print("minimised in %d tries to: %s" % (tries, describe(small)))
        print("minimised bytes: %r" % small.data[:600])
    for p in saved:
        print("saved %s" % os.path.relpath(p, SOURCE_ROOT))
    print("replay it: %s --server %s --replay --only %s"
          % (sys.argv[0], args.server, os.path.basename(saved[-1]) if saved else ""))
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, help="the channels-server binary")
    ap.add_argument("--source-root", default=SOURCE_ROOT, help="for static/ and templates/")
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--replay", action="store_true", help="run every corpus entry once")
    ap.add_argument("--only", nargs="*", help="replay only entries whose name contains one of these")
    ap.add_argument("--minutes", type=float, default=1.0, help="fuzzing time")
    ap.add_argument("--iterations", type=int, default=0, help="stop after this many streams")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--workers", type=int, default=1,
                    help="server workers (1: a wedged worker shows as a failed /healthz)")
    ap.add_argument("--log-level", default="warn",
                    help="server log level: at warn every line counts for the log-flood check")
    ap.add_argument("--idle-ms", type=int, default=300, help="quiet time that ends a stream")
    ap.add_argument("--healthz-s", type=float, default=5.0, help="deadline of the /healthz check")
    ap.add_argument("--spin-every", type=int, default=25, help="idle-CPU check every N streams")
    ap.add_argument("--restart-every", type=int, default=1000,
                    help="restart the server (leak check at exit) every N streams")
    ap.add_argument("--minimise-s", type=float, default=90.0, help="time budget of minimisation")
    ap.add_argument("--no-oracle", action="store_true",
                    help="do not check statuses against the reference reading")
    ap.add_argument("--keep-going", action="store_true",
                    help="save each distinct failure and go on (restarting the server)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    return replay(args) if args.replay else fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
