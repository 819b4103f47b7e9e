#!/usr/bin/python3
"""Interop with real Django Channels on one redis-server.

usage: /usr/bin/python3 test_django_interop.py SERVER_EXE [CLI_EXE]

Starts its own redis-server, our channels-server (--redis) and daphne
serving tests/interop/djproject (channels_redis' RedisPubSubChannelLayer),
then checks, with python3-websockets clients:
  (i)   Django's group_send (RedisPubSubChannelLayer) reaches a client of
        OUR /notifications/;
  (ii)  a POST /posts/ on OUR server reaches a client of DAPHNE's
        /notifications/;
  (iii) a chat room shared by a daphne client and one of ours, both ways;
  (iv)  what our server PUBLISHes is channels_redis' msgpack: redis-py
        subscribes and msgpack.unpackb gives the expected dict.
Exits 0 when every check passed, 1 otherwise (each failure printed with
expected and got), 77 when a needed program is missing.
"""
import asyncio
import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import msgpack
import redis
import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DJPROJECT = os.path.join(HERE, "djproject")
PYTHON = "/usr/bin/python3"
TIMEOUT = 5.0

failures = []
checks = 0


def check(cond, what, expected=None, got=None):
    global checks
    checks += 1
    if cond:
        print(f"ok: {what}", flush=True)
        return True
    msg = f"FAIL: {what}"
    if expected is not None or got is not None:
        msg += f"\n  expected: {expected!r}\n  got:      {got!r}"
    print(msg, flush=True)
    failures.append(what)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} not listening on {port} after {timeout} s")


class Procs:
    """The child processes and their logs; dumped on failure."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="channels-interop-")
        self.procs = []

    def start(self, name, argv, **kw):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, **kw)
        self.procs.append((name, p, log))
        return p

    def dump(self):
        for name, _, log in self.procs:
            if not log.closed:
                log.flush()
            with open(log.name, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            print(f"----- {name} log -----\n{text[-6000:]}----- end of {name} log -----")

    def stop(self):
        statuses = {}
        for name, p, log in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            statuses[name] = p.returncode
            log.close()
        return statuses

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def django_env(redis_url):
    env = dict(os.environ)
    env["PYTHONPATH"] = DJPROJECT
    env["DJANGO_SETTINGS_MODULE"] = "settings"
    env["REDIS_URL"] = redis_url
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class OurSession:
    """An HTTP client of our server with a cookie jar (no redirect following)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self.NoRedirect)

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    def request(self, method, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def login(self, username, room="lobby"):
        status, _ = self.request("GET", "/chat/")
        check(status == 200 and self.cookie("csrftoken"), "GET /chat/ gives a csrftoken",
              200, (status, self.cookie("csrftoken")))
        status, body = self.request("POST", "/chat/", {
            "username": username, "room": room,
            "csrfmiddlewaretoken": self.cookie("csrftoken") or ""})
        check(status == 302 and self.cookie("sessionid"), f"login as {username}",
              302, (status, body[:200]))

    def post(self, message):
        status, body = self.request("POST", "/posts/", {
            "message": message, "csrfmiddlewaretoken": self.cookie("csrftoken") or ""})
        check(status == 302, f"POST /posts/ {message!r}", 302, (status, body[:200]))

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def wait_numsub(r, channel, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n = dict(r.pubsub_numsub(channel)).get(channel.encode(), 0)
        if n >= want:
            return True
        time.sleep(0.02)
    check(False, f"PUBSUB NUMSUB {channel} reaches {want}", want, n)
    return False


async def recv_json(ws, who, timeout=TIMEOUT):
    try:
        text = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        check(False, f"{who} receives a message within {timeout} s", "a message", "nothing")
        return None
    try:
        return json.loads(text)
    except ValueError:
        check(False, f"{who} receives JSON", "JSON", text)
        return None


async def silent(ws, who, timeout=0.5):
    try:
        text = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        return True
    check(False, f"{who} receives nothing more", "nothing", text)
    return False


async def scenario(ours_port, daphne_port, r, redis_url):
    ours = f"ws://127.0.0.1:{ours_port}"
    dj = f"ws://127.0.0.1:{daphne_port}"

    # (i) Django's RedisPubSubChannelLayer.group_send -> our /notifications/.
    print("== (i) Django group_send -> our /notifications/ ==", flush=True)
    async with websockets.connect(ours + "/notifications/") as n_ours:
        wait_numsub(r, "asgi__group__gossip", 1)
        script = (
            "import django; django.setup()\n"
            "from asgiref.sync import async_to_sync\n"
            "from channels.layers import get_channel_layer\n"
            "async_to_sync(get_channel_layer().group_send)('gossip', {'type': 'name.gossip',"
            " 'event': 'New Post', 'sender': 'django', 'message': 'from django'})\n")
        p = subprocess.run([PYTHON, "-c", script], env=django_env(redis_url), cwd=DJPROJECT,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "the Django publisher exits 0", 0,
              (p.returncode, p.stderr[-2000:]))
        got = await recv_json(n_ours, "our notification client")
        want = {"type": "name.gossip", "event": "New Post", "sender": "django",
                "message": "from django"}
        check(got == want, "Django's group_send reaches our /notifications/", want, got)

    # (ii) POST /posts/ on our server -> daphne's /notifications/.
    print("== (ii) our POST /posts/ -> daphne /notifications/ ==", flush=True)
    sess = OurSession(ours_port)
    sess.login("pyuser")
    before = dict(r.pubsub_numsub("asgi__group__gossip")).get(b"asgi__group__gossip", 0)
    async with websockets.connect(dj + "/notifications/") as n_dj:
        wait_numsub(r, "asgi__group__gossip", before + 1)
        sess.post("hello daphne")
        got = await recv_json(n_dj, "daphne's notification client")
        want = {"type": "name.gossip", "event": "New Post", "sender": "pyuser",
                "message": "hello daphne"}
        check(got == want, "our POST /posts/ reaches daphne's /notifications/", want, got)

    # (iii) one chat room, a daphne client and one of ours.
    print("== (iii) mixed chat room lobby ==", flush=True)
    headers = {"Cookie": sess.cookie_header()}
    async with websockets.connect(dj + "/ws/chat/lobby/") as c_dj, \
            websockets.connect(ours + "/ws/chat/lobby/", extra_headers=headers) as c_ours:
        wait_numsub(r, "asgi__group__chat_lobby", 2)
        await c_dj.send(json.dumps({"message": "from daphne", "username": "dj"}))
        want = {"message": "from daphne", "username": "dj"}
        got = await recv_json(c_ours, "our chat client")
        check(got == want, "daphne -> ours in chat_lobby", want, got)
        got = await recv_json(c_dj, "daphne chat client (own message)")
        check(got == want, "daphne's client gets its own message", want, got)

        await c_ours.send(json.dumps({"message": "from ours"}))
        want = {"message": "from ours", "username": "pyuser"}
        got = await recv_json(c_dj, "daphne chat client")
        check(got == want, "ours -> daphne in chat_lobby", want, got)
        got = await recv_json(c_ours, "our chat client (own message)")
        check(got == want, "our client gets its own message", want, got)
        await silent(c_ours, "our chat client")
        await silent(c_dj, "daphne chat client")

        # (iv) msgpack golden check of what our server publishes.
        print("== (iv) msgpack on the wire ==", flush=True)
        ps = r.pubsub()
        ps.subscribe("asgi__group__gossip", "asgi__group__chat_lobby")
        deadline = time.monotonic() + 5
        subscribed = 0
        while subscribed < 2 and time.monotonic() < deadline:
            m = ps.get_message(timeout=0.5)
            if m and m["type"] == "subscribe":
                subscribed += 1
        check(subscribed == 2, "redis-py subscribed", 2, subscribed)

        sess.post("golden")
        await c_ours.send(json.dumps({"message": "golden chat"}))
        raw = {}
        deadline = time.monotonic() + 5
        while len(raw) < 2 and time.monotonic() < deadline:
            m = ps.get_message(timeout=0.5)
            if m and m["type"] == "message":
                raw[m["channel"].decode()] = m["data"]
        ps.close()
        cases = [
            ("asgi__group__gossip", {"type": "name.gossip", "event": "New Post",
                                     "sender": "pyuser", "message": "golden"}),
            ("asgi__group__chat_lobby", {"type": "chat.message", "message": "golden chat",
                                         "username": "pyuser"}),
        ]
        for channel, want in cases:
            data = raw.get(channel)
            if not check(data is not None, f"a message on {channel}", "bytes", data):
                continue
            check(isinstance(data, bytes) and data[:1] != b"{",
                  f"{channel}: payload is msgpack, not JSON", "a msgpack map", data[:40])
            try:
                got = msgpack.unpackb(data)
            except Exception as e:  # noqa: BLE001 - any decode error is the finding
                got = f"unpackb raised {e!r}"
            check(got == want, f"{channel}: msgpack.unpackb gives the expected dict", want, got)
            if data != msgpack.packb(want):
                print(f"note: {channel}: bytes differ from msgpack.packb(dict) "
                      f"(key order?): {data!r}", flush=True)
        # Drain the golden messages from the WebSocket clients.
        await recv_json(c_ours, "our chat client (golden)")
        await recv_json(c_dj, "daphne chat client (golden)")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    server_exe = os.path.abspath(sys.argv[1])
    for prog in ("redis-server", "daphne"):
        if not shutil.which(prog):
            print(f"skip: {prog} not found")
            return 77

    procs = Procs()
    statuses = {}
    try:
        redis_port = free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}"
        rp = procs.start("redis-server", ["redis-server", "--port", str(redis_port),
                                          "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", procs.tmp])
        wait_port(redis_port, rp, "redis-server")
        r = redis.Redis(host="127.0.0.1", port=redis_port)
        deadline = time.monotonic() + 10
        while True:
            try:
                r.ping()
                break
            except redis.exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        port_file = os.path.join(procs.tmp, "port")
        ours = procs.start("channels-server", [
            server_exe, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
            "--static-dir", os.path.join(ROOT, "static"),
            "--templates-dir", os.path.join(ROOT, "templates"),
            "--secret-key", "interop-secret-key-0123456789abcdef",
            "--redis", redis_url])
        deadline = time.monotonic() + 15
        ours_port = 0
        while not ours_port:
            if ours.poll() is not None:
                raise RuntimeError(f"channels-server exited with {ours.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("channels-server wrote no port file")
            try:
                with open(port_file) as f:
                    ours_port = int(f.read().strip() or 0)
            except (OSError, ValueError):
                time.sleep(0.02)
        wait_port(ours_port, ours, "channels-server")

        daphne_port = free_port()
        dp = procs.start("daphne", ["daphne", "-b", "127.0.0.1", "-p", str(daphne_port),
                                    "asgi:application"],
                         cwd=DJPROJECT, env=django_env(redis_url))
        wait_port(daphne_port, dp, "daphne")
        print(f"redis {redis_url}, channels-server :{ours_port}, daphne :{daphne_port}",
              flush=True)

        asyncio.run(asyncio.wait_for(scenario(ours_port, daphne_port, r, redis_url), 120))
        check(ours.poll() is None, "channels-server still running", None, ours.returncode)
        check(dp.poll() is None, "daphne still running", None, dp.returncode)
    except Exception as e:  # noqa: BLE001 - report, dump logs, fail
        check(False, f"the test ran to the end ({type(e).__name__}: {e})")
    finally:
        statuses = procs.stop()
        if statuses.get("channels-server") not in (0, None):
            check(False, "channels-server exits 0 on SIGTERM", 0, statuses["channels-server"])
        if failures:
            procs.dump()
        procs.cleanup()
    passed = checks - len(failures)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
