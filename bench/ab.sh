#!/usr/bin/env bash
# bench/ab.sh - a before/after pair of two channels-server binaries under the
# same fixed loads, run alternately (A, B, A, B, ...) so that whatever else
# the shared machine does falls on both; prints the median of each figure.
#
# usage: bench/ab.sh [--rounds N] A_BINARY B_BINARY
#   M1: 1 room x 100 clients, 10 senders at --m1-rate msg/s each (default 500)
#   M2: 100 rooms x 10 clients, 1 sender each at --m2-rate msg/s (default 200)
#   M3: 5000 idle connections: handshakes/s and server RSS per connection
# Figures: server CPU per delivery (us, from --server-pid), p99 latency (ms),
# loss; handshakes/s and bytes per idle connection. Servers run on CPU 0,
# the load generator on CPU 1, as in bench/run.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${BENCH:-$ROOT/build/tools/benchmark/channels-benchmark}
ROUNDS=5
M1_RATE=500
M2_RATE=200
while [ $# -gt 2 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--m1-rate) M1_RATE=$2; shift 2 ;;
	--m2-rate) M2_RATE=$2; shift 2 ;;
	*) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -eq 2 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
A=$1
B=$2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run LABEL BINARY WORKLOAD
run() {
	local label=$1 bin=$2 w=$3 port pid args
	port=$(free_port)
	taskset -c 0 "$bin" --port "$port" --workers 1 --rate-limit 0 --max-connections 100000 \
		--log-level warn >"$OUT/server.log" 2>&1 &
	pid=$!
	local up=0
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$port)).close()" 2>/dev/null && up=1 && break
		sleep 0.1
	done
	if [ "$up" != 1 ]; then
		echo "ab.sh: $bin did not start; its log:" >&2
		cat "$OUT/server.log" >&2
		exit 1
	fi
	case $w in
	M1) args=(--rooms 1 --clients 100 --senders 10 --mode fixed --rate "$M1_RATE" --duration 3 --warmup 1 --drain 1) ;;
	M2) args=(--rooms 100 --clients 10 --senders 1 --mode fixed --rate "$M2_RATE" --duration 3 --warmup 1 --drain 1) ;;
	M3) args=(--mode idle --connections 5000 --hold 2) ;;
	esac
	local path='/ws/chat/bench{room}/'
	[ "$w" = M3 ] && path=/ws/chat/idle/
	taskset -c 1 "$BENCH" --port "$port" --path "$path" --server-pid "$pid" "${args[@]}" --json \
		2>/dev/null | grep '^{' | tail -n 1 >"$OUT/$label-$w-$RANDOM.json" || true
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

for r in $(seq "$ROUNDS"); do
	for w in M1 M2 M3; do
		run A "$A" "$w"
		run B "$B" "$w"
	done
	echo "round $r done" >&2
done

python3 - "$OUT" "$A" "$B" <<'PY'
import glob, json, os, statistics, sys
out, a, b = sys.argv[1:4]
def med(label, w, key):
    vals = []
    for f in glob.glob(os.path.join(out, f"{label}-{w}-*.json")):
        try:
            x = json.load(open(f))
        except Exception:
            continue
        x = x.get("result", x)
        if x.get(key) is not None:
            vals.append(float(x[key]))
    return (statistics.median(vals), len(vals)) if vals else (None, 0)
print(f"A = {a}\nB = {b}\n")
print("| workload | figure | A (median) | B (median) | B / A | runs |")
print("|---|---|---|---|---|---|")
rows = [("M1", "server_cpu_us_per_delivery"), ("M1", "p99_ms"), ("M1", "loss"),
        ("M2", "server_cpu_us_per_delivery"), ("M2", "p99_ms"), ("M2", "loss"),
        ("M3", "handshakes_per_s"), ("M3", "rss_per_conn_bytes")]
for w, k in rows:
    (va, na), (vb, nb) = med("A", w, k), med("B", w, k)
    ratio = f"{vb / va:.3f}" if va and vb is not None else "-"
    print(f"| {w} | {k} | {va} | {vb} | {ratio} | {na}/{nb} |")
PY
