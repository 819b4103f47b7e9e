"""server.py - channels-server as a child process, and what it says on stderr.

One Server is one child on a free port of 127.0.0.1 (--port 0 with
--port-file), its stderr in a temporary file read incrementally. Start it,
ask whether it is alive, whether it answers GET /healthz, whether it burns
CPU while idle, and stop it (SIGTERM, so LeakSanitizer reports at exit).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                       r"SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|"
                       r"WARNING: ThreadSanitizer")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+")


class Server:
    def __init__(self, exe, source_root, workers=1, log_level="warn", extra=()):
        self.exe = exe
        self.source_root = source_root
        self.args = ["--workers", str(workers), "--log-level", log_level] + list(extra)
        self.proc = None
        self.port = 0
        self.dir = None
        self.log_off = 0
        self.exit_status = None

    def start(self, timeout=20.0):
        self.dir = tempfile.mkdtemp(prefix="channels-streamfuzz-")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_off = 0
        self.exit_status = None
        env = dict(os.environ)
        supp = os.path.join(self.source_root, "tests", "lsan.supp")
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.setdefault("LSAN_OPTIONS", "suppressions=" + supp)
        argv = [self.exe, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
                "--static-dir", os.path.join(self.source_root, "static"),
                "--templates-dir", os.path.join(self.source_root, "templates"),
                "--secret-key", "streamfuzz-secret-key-0123456789",
                # One line per request by design: written (and fuzzed) to its
                # own file, so the stderr checks (log flood) see the log only.
                "--access-log", os.path.join(self.dir, "access.log")] + self.args
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(port_file) as f:
                    self.port = int(f.read().strip() or 0)
                if self.port:
                    return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("server exited at start (status %s):\n%s"
                                   % (self.proc.returncode, self.read_log_all()))
            time.sleep(0.01)
        self.kill()
        raise RuntimeError("server did not listen within %.0f s" % timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def read_log_all(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def new_log(self):
        """stderr written since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_off)
                data = f.read()
        except OSError:
            return ""
        self.log_off += len(data)
        return data.decode("utf-8", "replace")

    def cpu_ticks(self):
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return 0

    def idle_cpu(self, window=0.25):
        """Fraction of one core the server used over `window` seconds of no traffic."""
        hz = os.sysconf("SC_CLK_TCK")
        a = self.cpu_ticks()
        time.sleep(window)
        return (self.cpu_ticks() - a) / hz / window

    def healthz(self, deadline_s):
        """None when GET /healthz answers 200 "ok" within the deadline; else why not."""
        end = time.monotonic() + deadline_s
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=deadline_s)
        except OSError as e:
            return "connect: %s" % e
        data = b""
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            while time.monotonic() < end:
                s.settimeout(max(0.01, end - time.monotonic()))
                got = s.recv(65536)
                if not got:
                    break
                data += got
                if data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nok\n"):
                    return None
        except socket.timeout:
            return "no complete answer within %.1f s (got %r)" % (deadline_s, data[:80])
        except OSError as e:
            return "%s (got %r)" % (e, data[:80])
        finally:
            s.close()
        if data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nok\n"):
            return None
        return "unexpected answer %r" % data[:120]

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit status (negative: signal)."""
        if self.proc is None:
            return self.exit_status
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_status = self.proc.returncode
        self.proc = None
        return self.exit_status

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.exit_status = self.proc.returncode
            self.proc = None

    def cleanup(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def log_key(line):
    """A log line without its time stamp, numbers and quoted parts: lines that
    differ only there are the same cause."""
    line = STAMP.sub("", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", line)
    return re.sub(r"[0-9a-fA-F]{6,}|\d+", "N", line)
