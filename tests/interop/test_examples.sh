#!/usr/bin/env bash
# The README's "publish from outside" snippets, run as written against a
# fresh redis-server and channels-server --redis: redis-cli, Python
# (channels_redis), Node (npm redis) and channels-cli (Redis and HTTP). A
# WebSocket client of /notifications/ (python3-websockets) must see each
# message. Prints "N passed, N failed"; exits 1 on any failure.
#   usage: test_examples.sh SERVER_EXE CLI_EXE
set -uo pipefail

SERVER_EXE=$(realpath "$1")
CLI_EXE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/channels-examples-XXXXXX)
pids=()
passed=0
failed=0

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL: $1"
  failed=$((failed + 1))
}
# check WHAT CMD...: runs CMD, counts "WHAT" as passed when it exits 0,
# else as failed; returns CMD's status.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else local st=$?; fail "$what"; return $st; fi
}
dump_logs() {
  for f in "$TMP"/*.log; do echo "----- $f -----"; tail -n 60 "$f"; done
}
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- redis-server and our server ----
PORT=$(free_port)
export REDIS_URL="redis://127.0.0.1:$PORT"
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
  >"$TMP/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(redis-cli -p "$PORT" PING 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
if [ "$(redis-cli -p "$PORT" PING 2>/dev/null)" != PONG ]; then
  fail "redis-server answers PING"; dump_logs; exit 1
fi

"$SERVER_EXE" --host 127.0.0.1 --port 0 --port-file "$TMP/port" \
  --static-dir "$ROOT/static" --templates-dir "$ROOT/templates" \
  --redis "$REDIS_URL" >"$TMP/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
for _ in $(seq 150); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { fail "channels-server wrote its port"; dump_logs; exit 1; }
SERVER_PORT=$(cat "$TMP/port")
echo "redis $REDIS_URL, channels-server :$SERVER_PORT"

# ---- the WebSocket client: one JSON line per notification ----
$PY - "$SERVER_PORT" >"$TMP/ws.out" 2>"$TMP/ws.log" <<'PY' &
import asyncio, sys, websockets
async def main():
    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/notifications/") as ws:
        async for text in ws:
            print(text, flush=True)
asyncio.run(asyncio.wait_for(main(), 120))
PY
pids+=($!)
for _ in $(seq 100); do
  n=$(redis-cli -p "$PORT" PUBSUB NUMSUB asgi__group__gossip | tail -n 1)
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.05
done
[ "${n:-0}" -ge 1 ] || { fail "the server subscribed asgi__group__gossip"; dump_logs; exit 1; }

# expect SENDER: the client printed {"type":"name.gossip","event":"New Post",
# "sender":SENDER,"message":"hello"} within 10 s.
expect() {
  local what=$1 sender=$2
  for _ in $(seq 100); do
    if $PY - "$TMP/ws.out" "$sender" <<'PY'
import json, sys
want = {"type": "name.gossip", "event": "New Post", "sender": sys.argv[2], "message": "hello"}
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if want in lines else 1)
PY
    then ok "$what reaches a WebSocket client of /notifications/"; return; fi
    sleep 0.1
  done
  fail "$what reaches a WebSocket client of /notifications/ (sender \"$sender\")"
  echo "  the client got:"; sed 's/^/    /' "$TMP/ws.out"
}

# ---- 1. redis-cli ----
echo '$ redis-cli PUBLISH ...'
redis-cli -p "$PORT" PUBLISH asgi__group__gossip '{"type":"name.gossip","event":"New Post","sender":"redis-cli","message":"hello"}'
expect "redis-cli PUBLISH (JSON)" redis-cli

# ---- 2. Python, channels_redis ----
echo '$ python3 publish.py'
cat >"$TMP/publish.py" <<'PY'
import os
from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer

layer = RedisPubSubChannelLayer(hosts=[os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")])
async_to_sync(layer.group_send)("gossip", {"type": "name.gossip", "event": "New Post", "sender": "python", "message": "hello"})
PY
check "the Python snippet exits 0" $PY "$TMP/publish.py" 2>"$TMP/python.log" || cat "$TMP/python.log"
[ -s "$TMP/python.log" ] && { echo "  python stderr:"; sed 's/^/    /' "$TMP/python.log"; }
expect "Python RedisPubSubChannelLayer.group_send (msgpack)" python

# ---- 3. Node, npm redis ----
echo '$ node publish.mjs'
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -d "$HERE/node/node_modules/redis" ]; then
    (cd "$HERE/node" && npm install --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1 \
      || { cat "$TMP/npm.log"; }
  fi
  check "the Node snippet exits 0" node "$HERE/node/publish.mjs" 2>"$TMP/node.log" || cat "$TMP/node.log"
  expect "Node redis PUBLISH (JSON)" node
else
  fail "node and npm are installed (scripts/install-deps.sh --test)"
fi

# ---- 4. channels-cli, through Redis and through the publish endpoint ----
echo '$ channels-cli --redis ... group-send gossip ...'
check "channels-cli --redis exits 0" "$CLI_EXE" --redis "$REDIS_URL" group-send gossip '{"type":"name.gossip","event":"New Post","sender":"cli-redis","message":"hello"}'
expect "channels-cli --redis group-send" cli-redis
echo '$ channels-cli --url ... group-send gossip ...'
check "channels-cli --url exits 0" "$CLI_EXE" --url "http://127.0.0.1:$SERVER_PORT" group-send gossip '{"type":"name.gossip","event":"New Post","sender":"cli-http","message":"hello"}'
expect "channels-cli --url group-send (publish endpoint)" cli-http

# ---- the server survived and stops cleanly ----
check "channels-server still running" kill -0 "$server_pid" 2>/dev/null
kill -TERM "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "channels-server did not exit within 10 s of SIGTERM: SIGKILL"
  kill -KILL "$server_pid"
fi
wait "$server_pid"
status=$?
if [ "$status" -eq 0 ]; then
  ok "channels-server exits 0 on SIGTERM"
else
  fail "channels-server exits 0 on SIGTERM (got $status)"
fi

[ "$failed" -gt 0 ] && dump_logs
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
