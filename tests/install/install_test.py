#!/usr/bin/env python3
"""install_test.py: `meson install` as a new user meets it (issue 10, item 7).

Installs the current build into a fresh DESTDIR, then, against that staged
tree only:
  1. every installed public header compiles alone as <channels-c/NAME.h>,
     with the flags of `pkg-config --cflags channels-c`;
  2. examples/hello builds with its Makefile (pkg-config) against the shared
     and against the static library (checked with readelf), and each build
     serves its view over HTTP, its consumer over a real WebSocket (two
     clients in one group) and its own --greeting flag;
  3. the installed channels-server, run from an empty working folder, serves
     a page and a static file from the installed data dir (a marker is
     added to the installed copies; the source tree has none) and logs that
     folder;
  4. libchannels-c.so exports exactly the functions and variables the
     installed headers declare (libchannels-c.map), no internal name;
  5. each installed man page renders without a warning (groff -ww, man
     --warnings).
Options (from tests/install/meson.build): --build-dir --source-dir --prefix
--libdir --bindir --datadir --mandir --includedir --meson --cc [--cflag F]...
"""
import argparse
import base64
import glob
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

MARK = "installed-data-marker-7"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def staged(root, path):
    return os.path.join(root, path.lstrip("/"))


# ---- a minimal WebSocket client (RFC 6455, text frames only) ----

def ws_open(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            fail(f"{path}: connection closed during the handshake: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        fail(f"{path}: handshake refused: {head!r}")
    return s


def ws_send(s, text):
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            fail("WebSocket closed early")
        buf += chunk
    return buf


def ws_recv(s):
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    payload = recv_exact(s, n)
    if b0 & 0x0F != 1:
        fail(f"expected a text frame, got opcode {b0 & 0x0F}: {payload!r}")
    return payload.decode()


# ---- servers ----

class Server:
    def __init__(self, argv, cwd, env=None):
        self.port_file = os.path.join(cwd, "port")
        self.log_path = os.path.join(cwd, "server.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv + ["--port", "0", "--port-file", self.port_file,
                                             "--workers", "1"],
                                     cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"{argv[0]} exited {self.proc.returncode}:\n{self.logged()}")
            try:
                with open(self.port_file) as f:
                    self.port = int(f.read().strip())
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        self.stop()
        fail(f"{argv[0]} did not write its port file:\n{self.logged()}")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()

    def logged(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail(f"did not stop on SIGTERM:\n{self.logged()}")
        self.log.close()
        return self.proc.returncode


def check_hello(exe, data_dir, cwd, env):
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env, timeout=30)
    if "--greeting" not in helped.stdout or "HELLO_GREETING" not in helped.stdout:
        fail(f"{exe} --help does not list its own flag:\n{helped.stdout}{helped.stderr}")
    srv = Server([exe, "--greeting", "Bonjour", "--static-dir", os.path.join(data_dir, "static"),
                  "--templates-dir", os.path.join(data_dir, "templates")], cwd, env)
    try:
        status, ctype, body = srv.get("/hello/world/")
        if status != 200 or not ctype.startswith("application/json") or \
                json.loads(body) != {"greeting": "Bonjour, world!"}:
            fail(f"/hello/world/: {status} {ctype} {body!r}")
        a, b = ws_open(srv.port, "/ws/hello/"), ws_open(srv.port, "/ws/hello/")
        time.sleep(0.2)  # both joined before the message (groups are joined on connect)
        ws_send(a, json.dumps({"message": "hi"}))
        for who, s in (("sender", a), ("other member", b)):
            got = json.loads(ws_recv(s))
            if got != {"message": "hi", "n": 1}:
                fail(f"ws/hello/ {who} got {got!r}")
        a.close()
        b.close()
    finally:
        rc = srv.stop()
    if rc != 0:
        fail(f"{exe} exited {rc} on SIGTERM:\n{srv.logged()}")
    print(f"ok: {os.path.basename(exe)}: view, consumer (2 members of group hello), --greeting")


def check_default_data_dir(exe, want, cwd, env):
    """`exe` started without --static-dir names `want` (its default) in its
    log, whether it then serves (the folder exists) or stops (it does not)."""
    log_path = os.path.join(cwd, "default.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([exe, "--port", "0", "--port-file", os.path.join(cwd, "dport"),
                                 "--workers", "1"], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline and proc.poll() is None and \
                not os.path.exists(os.path.join(cwd, "dport")):
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    with open(log_path) as f:
        text = f.read()
    if f"static files from {want}/static" not in text and f"static dir {want}/static" not in text:
        fail(f"{exe} without --static-dir should use {want}/static:\n{text}")
    print(f"ok: {os.path.basename(exe)} in {os.path.dirname(exe)}: default data dir {want}")


def check_installed_server(root, bindir, data_dir, work):
    # Markers in the installed copies only: what is served must come from them.
    with open(os.path.join(data_dir, "templates", "base.html"), "a") as f:
        f.write(f"<!-- {MARK} -->\n")
    with open(os.path.join(data_dir, "static", "css", "site.css"), "a") as f:
        f.write(f"/* {MARK} */\n")
    cwd = os.path.join(work, "server-cwd")
    os.mkdir(cwd)
    srv = Server([os.path.join(bindir, "channels-server"), "--secret-key", "x" * 32], cwd)
    try:
        _, _, page = srv.get("/")
        _, _, css = srv.get("/static/css/site.css")
    finally:
        rc = srv.stop()
    log = srv.logged()
    if MARK not in page:
        fail(f"GET / is not the installed template (no marker):\n{page[-400:]}")
    if MARK not in css:
        fail("GET /static/css/site.css is not the installed file (no marker)")
    real = os.path.realpath(data_dir)
    if f"static files from {real}/static" not in log or f"templates from {real}/templates" not in log:
        fail(f"the log does not name the installed data dir {real}:\n{log}")
    if rc != 0:
        fail(f"channels-server exited {rc} on SIGTERM:\n{log}")
    print(f"ok: installed channels-server serves templates and static files from {real}")


def check_abi(libdir, incdir):
    idents = set()
    for h in os.listdir(incdir):
        with open(os.path.join(incdir, h)) as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        idents |= set(re.findall(r"\b[A-Za-z_]\w*\b", text))
    def defined(args):
        out = run(["nm", *args]).stdout
        return {l.split()[2].split("@")[0] for l in out.splitlines()
                if len(l.split()) == 3 and l.split()[1] in "TDBRVW"}
    in_archive = defined(["-g", "--defined-only", os.path.join(libdir, "libchannels-c.a")])
    exported = defined(["-D", "--defined-only", os.path.join(libdir, "libchannels-c.so")])
    exported.discard("CHANNELS_C_0")
    missing = sorted((idents & in_archive) - exported)
    extra = sorted(exported - idents)
    if missing or extra:
        fail(f"libchannels-c.so: declared but not exported {missing}; exported, not declared {extra}")
    print(f"ok: libchannels-c.so exports the {len(exported)} names its headers declare, no other")


def check_man(mandir):
    pages = sorted(glob.glob(os.path.join(mandir, "man1", "*.1")))
    names = [os.path.basename(p) for p in pages]
    if names != ["channels-benchmark.1", "channels-cli.1", "channels-server.1"]:
        fail(f"man pages installed: {names}")
    for p in pages:
        r = subprocess.run(["groff", "-ww", "-z", "-man", p], capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            fail(f"groff -ww {p}: {r.stderr}")
        if shutil.which("man"):
            r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MAN_KEEP_STDERR="1"))
            if r.returncode != 0 or r.stderr.strip() or "channels" not in r.stdout:
                fail(f"man --warnings -l {p}: {r.returncode} {r.stderr}")
    print(f"ok: {len(pages)} man pages render without warnings")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("build-dir", "source-dir", "prefix", "libdir", "bindir", "datadir", "mandir",
                "includedir", "meson", "cc"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--cflag", action="append", default=[])
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="channels-install-")
    try:
        dest = os.path.join(work, "dest")
        run([a.meson, "install", "-C", a.build_dir, "--destdir", dest, "--no-rebuild", "--quiet"])
        root = staged(dest, a.prefix)
        p = lambda d: d if os.path.isabs(d) else os.path.join(a.prefix, d)
        libdir, bindir = staged(dest, p(a.libdir)), staged(dest, p(a.bindir))
        datadir, mandir = staged(dest, p(a.datadir)), staged(dest, p(a.mandir))
        incdir = os.path.join(staged(dest, p(a.includedir)), "channels-c")
        for f in ("libchannels-c.a", "libchannels-c.so", "pkgconfig/channels-c.pc"):
            if not os.path.exists(os.path.join(libdir, f)):
                fail(f"not installed: {libdir}/{f}")
        for f in ("channels-server", "channels-cli", "channels-benchmark"):
            if not os.access(os.path.join(bindir, f), os.X_OK):
                fail(f"not installed: {bindir}/{f}")
        data_dir = os.path.join(datadir, "channels-c")

        pkg = ["pkg-config", f"--define-variable=prefix={root}"]
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
        cflags = run(pkg + ["--cflags", "channels-c"], env=env).stdout.split()
        headers = sorted(os.listdir(incdir))
        for h in headers:
            src = os.path.join(work, "h.c")
            with open(src, "w") as f:
                f.write(f"#include <channels-c/{h}>\nint main(void) {{ return 0; }}\n")
            run([a.cc, "-std=gnu11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only",
                 *cflags, src])
        print(f"ok: {len(headers)} headers compile alone: {', '.join(headers)}")

        ex = os.path.join(work, "hello")
        os.mkdir(ex)
        flags = " ".join(a.cflag)
        run(["make", "-f", os.path.join(a.source_dir, "examples", "hello", "Makefile"),
             "CC=" + a.cc, "PKG_CONFIG=" + " ".join(pkg),
             "CFLAGS=-O1 -g -Wall -Wextra -Werror " + flags, "LDFLAGS=" + flags], cwd=ex, env=env)
        shared = run(["readelf", "-d", os.path.join(ex, "hello")]).stdout
        static = run(["readelf", "-d", os.path.join(ex, "hello-static")]).stdout
        if "libchannels-c.so" not in shared or "libchannels-c.so" in static:
            fail(f"hello should need libchannels-c.so, hello-static not:\n{shared}\n{static}")
        print("ok: examples/hello built with pkg-config against the shared and the static library")

        run_env = dict(os.environ, LD_LIBRARY_PATH=libdir)
        for exe in ("hello", "hello-static"):
            cwd = os.path.join(work, exe + "-cwd")
            os.mkdir(cwd)
            check_hello(os.path.join(ex, exe), data_dir, cwd, run_env)
        # A program of one's own: anywhere, the configured <prefix>/<datadir>;
        # installed in bindir beside channels-server, the staged data dir.
        check_default_data_dir(os.path.join(ex, "hello-static"),
                               os.path.join(p(a.datadir), "channels-c"), ex, run_env)
        shutil.copy(os.path.join(ex, "hello-static"), bindir)
        check_default_data_dir(os.path.join(bindir, "hello-static"),
                               os.path.realpath(data_dir), ex, run_env)
        check_installed_server(root, bindir, data_dir, work)
        check_abi(libdir, incdir)
        check_man(mandir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
