#!/usr/bin/python3
"""channels-c's RFC 6455 conformance suite: the case families of the
Autobahn testsuite (numbered as there; 0 is the opening handshake), run
over raw sockets against one echo server, printed as a table and a summary.

usage:
  run.py [options] --server CHANNELS_SERVER --limits raised|default
  run.py [options] --websockets          (Debian's python3-websockets echo)
  run.py [options] --url ws://HOST:PORT/PATH [--max-message N] [--rate N --burst N]
options:
  --quick            shorter large cases (up to 4 MiB: sanitizer builds)
  --only PREFIX      run only the cases whose id starts with PREFIX (repeatable)
  --promise NAME     hold the target to a promise beyond RFC 6455
                     (pong-per-ping, utf8-fail-fast; see wsconf/harness.py)
  --brief            print only the cases not OK (and the limits family)

--server starts channels-server on a free port serving ws/echo/:
  raised   --max-message-size 32 MiB, --max-queue 64 MiB, --rate-limit 0:
           every case expects the echo;
  default  the server's defaults (1 MiB messages, 100 messages/s with a
           burst of 200): larger messages expect 1009, 1000 messages in
           one write expect 1008.

Each case is OK, NON-STRICT (allowed by RFC 6455 but not the strict
behaviour) or FAILED. Exit status 1 when any case FAILED or the server
died, 0 otherwise (NON-STRICT is reported, not fatal), 77 when
python3-websockets is missing for --websockets.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from wsconf import harness  # noqa: E402
from wsconf.cases import FAMILIES  # noqa: E402

MiB = 1024 * 1024
PYTHON = "/usr/bin/python3"


def start(argv, log, port_file, name):
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        try:
            with open(port_file) as f:
                port = int(f.read().strip())
            return proc, port
        except (OSError, ValueError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{name} did not listen in 20 s")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, usage=argparse.SUPPRESS,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--server")
    g.add_argument("--websockets", action="store_true")
    g.add_argument("--url")
    ap.add_argument("--limits", choices=("raised", "default"), default="raised")
    ap.add_argument("--max-message", type=int)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--promise", action="append", default=[],
                    choices=harness.Target.PROMISES)
    ap.add_argument("--brief", action="store_true")
    return ap.parse_args()


def main():
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="wsconf-")
    port_file = os.path.join(tmp, "port")
    log_path = os.path.join(tmp, "server.log")
    log = open(log_path, "w")
    proc = None
    if args.server:
        argv = [args.server, "--port", "0", "--port-file", port_file, "--log-level", "warn",
                "--secret-key", "conformance-suite-secret", "--publish-endpoint", "0"]
        if args.limits == "raised":
            argv += ["--max-message-size", str(32 * MiB), "--max-queue", str(64 * MiB),
                     "--rate-limit", "0"]
            limits = dict(max_message=32 * MiB)
        else:
            limits = dict(max_message=1 * MiB, rate=100, burst=200)
        name = f"channels-server, {args.limits} limits"
        proc, port = start(argv, log, port_file, "channels-server")
        host, path = "127.0.0.1", "/ws/echo/"
    elif args.websockets:
        probe = subprocess.run([PYTHON, "-c", "import websockets"], capture_output=True)
        if probe.returncode != 0:
            print("python3-websockets is not installed: skipped")
            return 77
        proc, port = start([PYTHON, os.path.join(HERE, "echo_websockets.py"), port_file], log,
                           port_file, "websockets echo server")
        import websockets  # noqa: F401  (only for its version in the title)
        name = f"python3-websockets {websockets.__version__} echo"
        host, path = "127.0.0.1", "/"
        limits = dict(max_message=64 * MiB)
    else:
        rest = args.url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        port, path = int(port), "/" + path
        name = args.url
        limits = dict(max_message=args.max_message, rate=args.rate, burst=args.burst)
    target = harness.Target(name, host, port, path, promises=args.promise, quick=args.quick,
                            **limits)

    failed = True  # unless run_all() says otherwise
    try:
        failed = run_all(target, args)
    finally:
        if proc:
            failed = stop(proc, name, log, log_path, failed)
        else:
            log.close()
        if not failed:
            shutil.rmtree(tmp, ignore_errors=True)  # kept, with the log, on failure
    return 1 if failed else 0


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def stop(proc, name, log, log_path, failed):
    """Stops the target with SIGTERM; it must still be alive, exit 0 (the
    server's graceful shutdown) and have logged no sanitizer report."""
    problems = []
    if proc.poll() is not None:
        problems.append(f"{name} died during the run (status {proc.returncode})")
    else:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problems.append(f"{name} did not exit within 15 s of SIGTERM")
        if proc.returncode not in (0, -15) and not problems:
            problems.append(f"{name} exited with status {proc.returncode} after SIGTERM")
    log.close()
    with open(log_path, errors="replace") as f:
        lines = f.readlines()
    if any(m in line for line in lines for m in SANITIZER_MARKS):
        problems.append(f"{name} logged a sanitizer report")
    if problems or failed:
        print(f"--- {name} log ({log_path}), last 40 lines ---")
        print("".join(lines[-40:]), end="")
    for p in problems:
        print(f"FAILED: {p}")
    return failed or bool(problems)


def run_all(target, args):
    print(f"RFC 6455 conformance against {target.name} "
          f"(ws://{target.host}:{target.port}{target.path})"
          f"{', quick' if target.quick else ''}"
          f"{', promises: ' + ' '.join(sorted(target.promises)) if target.promises else ''}")
    print(f"{'case':<9} {'result':<10} {'ms':>7}  what")
    t_start = time.monotonic()
    rows = []
    for fam in FAMILIES:
        for case in fam.cases(target):
            if args.only and not any(case.id.startswith(p) for p in args.only):
                continue
            t0 = time.monotonic()
            try:
                r = case.fn(target)
            except Exception as e:  # a bug of the suite or a dead server: reported as such
                r = harness.Result(harness.FAILED, f"exception {type(e).__name__}: {e}")
            ms = (time.monotonic() - t0) * 1000
            rows.append((fam.FAMILY, case, r, ms))
            if not args.brief or r.verdict != harness.OK or fam.FAMILY == "limits":
                line = f"{case.id:<9} {r.verdict:<10} {ms:7.0f}  {case.title}"
                print(line + (f"  [{r.detail}]" if r.detail else ""), flush=True)
    wall = time.monotonic() - t_start

    print(f"\n{'family':<16} {'cases':>5} {'OK':>5} {'NON-STRICT':>10} {'FAILED':>6} {'s':>6}")
    fams = []
    for fam in FAMILIES:
        fr = [x for x in rows if x[0] == fam.FAMILY]
        if fr:
            fams.append(fam.FAMILY)
            n = {v: sum(1 for x in fr if x[2].verdict == v) for v in harness.RANK}
            print(f"{fam.FAMILY:<16} {len(fr):>5} {n[harness.OK]:>5} "
                  f"{n[harness.NON_STRICT]:>10} {n[harness.FAILED]:>6} "
                  f"{sum(x[3] for x in fr) / 1000:6.1f}")
    n = {v: sum(1 for x in rows if x[2].verdict == v) for v in harness.RANK}
    for verdict in (harness.NON_STRICT, harness.FAILED):
        bad = [x for x in rows if x[2].verdict == verdict]
        if bad:
            print(f"\n{verdict}:")
            for _, case, r, _ in bad:
                print(f"  {case.id:<9} {case.title}: {r.detail}")
    print(f"\nconformance [{target.name}]: {len(rows)} cases, {n[harness.OK]} OK, "
          f"{n[harness.NON_STRICT]} NON-STRICT, {n[harness.FAILED]} FAILED in {wall:.1f} s")
    return n[harness.FAILED] > 0


if __name__ == "__main__":
    sys.exit(main())
