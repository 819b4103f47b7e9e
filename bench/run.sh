#!/usr/bin/env bash
# bench/run.sh - runs the benchmark workloads against channels-server and its
# peers in ONE run, writes raw JSON lines to bench/results/<timestamp>.jsonl
# and turns them into BENCHMARKS.md (bench/report.py).
#
# usage: bench/run.sh [--quick] [--repeat K] [--only LIST] [--workloads LIST]
#                     [--no-report]
#   --quick        short durations, small connection counts (~2-3 minutes)
#   --repeat K     run every (server, workload) K times; the report takes medians
#   --only LIST    servers, comma-separated, from: ours, ours-redis, ours-w2,
#                  reference, node, daphne-memory, daphne-redis
#                  ("ours" = ours + ours-redis + ours-w2; default: all)
#   --workloads L  from M1,M2,M3,M4 (default: all)
# environment: BUILD (build directory, default <repo>/build); BENCH, OURS,
# REFERENCE override the binaries ($BUILD/tools/benchmark/channels-benchmark,
# $BUILD/apps/channels-server, $BUILD/bench/reference/reference-server).
#
# Every server runs pinned to CPU 0 (taskset -c 0), the load generator and
# redis-server to CPU 1. "ours-w2" (--workers 2) gets CPUs 0,1: it shares
# CPU 1 with the load generator (the machine has 2 cores). M1/M2 runs pass
# --server-pid: the load generator reports the server's CPU time per
# delivery. With ours-w2 selected, M2 also runs a "cpu" step: --mode fixed
# at ours' half-load rate against ours (1 worker) and ours-w2, the figures
# the --workers 2 scaling target is judged by.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BENCH=${BENCH:-$BUILD/tools/benchmark/channels-benchmark}
OURS=${OURS:-$BUILD/apps/channels-server}
REFERENCE=${REFERENCE:-$BUILD/bench/reference/reference-server}
PY=/usr/bin/python3 # Debian's: Django, Channels, daphne, channels_redis

QUICK=0
REPEAT=1
ONLY=ours,reference,node,daphne-memory,daphne-redis
WORKLOADS=M1,M2,M3,M4
REPORT=1
ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--repeat=*) REPEAT=${1#*=} ;;
	--only) ONLY=$2; shift ;;
	--only=*) ONLY=${1#*=} ;;
	--workloads) WORKLOADS=$2; shift ;;
	--workloads=*) WORKLOADS=${1#*=} ;;
	--no-report) REPORT=0 ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

# ---- the parameters of each workload ------------------------------------
if [ "$QUICK" = 1 ]; then
	DUR=0.7; WARM=0.2; DRAIN=0.3; PROBES=4; CPU_DUR=2
	M1_ROOMS=1; M1_CLIENTS=100; M1_SENDERS=10; M1_RATE=100
	M2_ROOMS=20; M2_CLIENTS=10; M2_SENDERS=1; M2_RATE=200
	M3_CONNS=1000; M3_HOLD=1
	M4_CLIENTS=200; M4_RATE=1000; M4_DUR=2
else
	DUR=5; WARM=1; DRAIN=1; PROBES=14; CPU_DUR=10
	M1_ROOMS=1; M1_CLIENTS=100; M1_SENDERS=10; M1_RATE=10
	M2_ROOMS=100; M2_CLIENTS=10; M2_SENDERS=1; M2_RATE=10
	M3_CONNS=10000; M3_HOLD=5
	M4_CLIENTS=1000; M4_RATE=1000; M4_DUR=10
fi
P99_LIMIT=50

# ---- servers selected --------------------------------------------------
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for s in "${_only[@]}"; do
	case "$s" in
	ours) WANT[ours]=1; WANT[ours-redis]=1; WANT[ours-w2]=1 ;;
	ours-redis|ours-w2|reference|node|daphne-memory|daphne-redis) WANT[$s]=1 ;;
	*) echo "run.sh: unknown server $s" >&2; exit 2 ;;
	esac
done
declare -A WL=()
IFS=, read -ra _wl <<<"$WORKLOADS"
for w in "${_wl[@]}"; do
	case "$w" in
	M1|M2|M3|M4) WL[$w]=1 ;;
	*) echo "run.sh: unknown workload $w" >&2; exit 2 ;;
	esac
done

# ---- prerequisites -------------------------------------------------------
if [ ! -x "$OURS" ] || [ ! -x "$REFERENCE" ] || [ ! -x "$BENCH" ]; then
	echo "run.sh: building in $BUILD" >&2
	ninja -C "$BUILD" >&2
fi
for b in "$OURS" "$REFERENCE" "$BENCH"; do
	[ -x "$b" ] || { echo "run.sh: missing $b" >&2; exit 1; }
done
# "ours" is one worker: say so where the server has --workers (its default
# may be one per core).
ONE_WORKER=()
if "$OURS" --help 2>&1 | grep -q -- '--workers'; then
	ONE_WORKER=(--workers 1)
elif [ -n "${WANT[ours-w2]:-}" ]; then
	echo "run.sh: channels-server has no --workers: skipping ours-w2" >&2
	unset 'WANT[ours-w2]'
fi
if [ -n "${WANT[node]:-}" ] && [ ! -d "$ROOT/bench/node/node_modules/ws" ]; then
	echo "run.sh: installing the node peer's dependencies" >&2
	(cd "$ROOT/bench/node" && npm ci --no-audit --no-fund >&2)
fi
command -v redis-server >/dev/null || { echo "run.sh: redis-server missing" >&2; exit 1; }
command -v taskset >/dev/null || { echo "run.sh: taskset missing" >&2; exit 1; }
# M3 holds thousands of sockets in one process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
OUT=$RESULTS/$STAMP.jsonl
LOGS=$RESULTS/$STAMP.logs
mkdir -p "$LOGS"
: >"$OUT"

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listening() { # port pid
	local i
	for i in $(seq 1 200); do
		if ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

SERVER_PID=
REDIS_PID=
OURS_M2_HALF=
cleanup() {
	[ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
	[ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- redis (for ours-redis, daphne-redis and M4) -------------------------
REDIS_PORT=$(free_port)
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--maxclients 10000 >"$LOGS/redis.log" 2>&1 &
REDIS_PID=$!
wait_listening "$REDIS_PORT" "$REDIS_PID" || { echo "run.sh: redis did not start" >&2; exit 1; }

# start_server NAME PORT: starts it pinned, sets SERVER_PID, waits until it listens.
start_server() {
	local name=$1 port=$2 log="$LOGS/$1-$3.log"
	local ours_args=(--port "$port" --rate-limit 0 --max-connections 100000
		--allowed-origins '*' --log-level warn)
	case "$name" in
	ours) taskset -c 0 "$OURS" "${ours_args[@]}" "${ONE_WORKER[@]}" >"$log" 2>&1 & ;;
	ours-redis) taskset -c 0 "$OURS" "${ours_args[@]}" "${ONE_WORKER[@]}" --redis "$REDIS_URL" \
		--redis-format json >"$log" 2>&1 & ;;
	ours-w2) taskset -c 0,1 "$OURS" "${ours_args[@]}" --workers 2 >"$log" 2>&1 & ;;
	reference) taskset -c 0 "$REFERENCE" --port "$port" >"$log" 2>&1 & ;;
	node) (cd "$ROOT/bench/node" && exec taskset -c 0 node server.js "$port") >"$log" 2>&1 & ;;
	daphne-memory)
		(cd "$ROOT/bench/daphne" && CHANNEL_LAYER=memory exec taskset -c 0 "$PY" -m daphne \
			-v 0 -b 127.0.0.1 -p "$port" benchproj.asgi:application) >"$log" 2>&1 & ;;
	daphne-redis)
		(cd "$ROOT/bench/daphne" && CHANNEL_LAYER=redis REDIS_URL=$REDIS_URL LAYER_FORMAT=json \
			exec taskset -c 0 "$PY" -m daphne -v 0 -b 127.0.0.1 -p "$port" \
			benchproj.asgi:application) >"$log" 2>&1 & ;;
	esac
	SERVER_PID=$!
	if ! wait_listening "$port" "$SERVER_PID"; then
		echo "run.sh: $name did not start (see $log)" >&2
		stop_pid "$SERVER_PID"
		SERVER_PID=
		return 1
	fi
}

# real_pid PID PORT: the server process itself, for --server-pid. Every
# start_server line execs (taskset execs the server), so PID normally is it;
# should a wrapper (a shell, taskset) remain, the newest other process whose
# command line holds the port.
real_pid() {
	local pid=$1 port=$2 comm c
	comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
	case "$comm" in
	bash|sh|dash|taskset)
		c=$( (pgrep -f -- "$port" || true) | grep -vx -- "$pid" | tail -n1 || true)
		[ -n "$c" ] && pid=$c ;;
	esac
	echo "$pid"
}

# record SERVER WORKLOAD PHASE REPEAT OUTFILE CMD...: appends one JSON line.
record() {
	local server=$1 workload=$2 phase=$3 rep=$4 outfile=$5
	shift 5
	local cmd="$*"
	"$PY" - "$server" "$workload" "$phase" "$rep" "$outfile" "${cmd//$ROOT\//}" >>"$OUT" <<'EOF'
import json, sys
server, workload, phase, rep, outfile, cmd = sys.argv[1:7]
line = None
try:
    for l in open(outfile):
        l = l.strip()
        if l.startswith("{"):
            line = l
except OSError:
    pass
rec = {"server": server, "workload": workload, "phase": phase, "repeat": int(rep), "cmd": cmd}
try:
    rec["result"] = json.loads(line) if line else None
except ValueError:
    rec["result"] = None
if rec["result"] is None:
    rec["error"] = "no JSON result (see the logs)"
print(json.dumps(rec))
EOF
}

# bench NAME ARGS...: runs channels-benchmark on CPU 1; stdout to $LOGS/NAME.out.
bench() {
	local name=$1
	shift
	LAST_CMD="channels-benchmark $*"
	echo "  $LAST_CMD" >&2
	taskset -c 1 "$BENCH" "$@" --json --quiet >"$LOGS/$name.out" 2>"$LOGS/$name.err" || true
}

json_field() { # file field
	"$PY" -c '
import json, sys
v = None
for l in open(sys.argv[1]):
    if l.strip().startswith("{"):
        v = json.loads(l).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2" 2>/dev/null || true
}

# start_or_note SERVER PORT LABEL WORKLOAD PHASE REP: start_server, or, when
# the server does not start, the error row of that run in $OUT and status 1.
start_or_note() {
	start_server "$1" "$2" "$3" && return 0
	echo "{\"server\":\"$1\",\"workload\":\"$4\",\"phase\":\"$5\",\"repeat\":$6,\"error\":\"server did not start\"}" >>"$OUT"
	return 1
}

# chat SERVER WORKLOAD REP ROOMS CLIENTS SENDERS RATE: max, then fixed at half.
chat() {
	local s=$1 w=$2 r=$3 rooms=$4 clients=$5 senders=$6 rate=$7 port
	port=$(free_port)
	start_or_note "$s" "$port" "$w-r$r" "$w" max "$r" || return 0
	local common=(--port "$port" --path '/ws/chat/bench{room}/' --rooms "$rooms"
		--clients "$clients" --senders "$senders" --duration "$DUR" --warmup "$WARM"
		--drain "$DRAIN" --server-pid "$(real_pid "$SERVER_PID" "$port")")
	local tag="$s-$w-r$r"
	bench "$tag-max" "${common[@]}" --mode max --rate "$rate" --p99-limit "$P99_LIMIT" \
		--max-probes "$PROBES"
	record "$s" "$w" max "$r" "$LOGS/$tag-max.out" "$LAST_CMD"
	local dps half
	dps=$(json_field "$LOGS/$tag-max.out" deliveries_per_s)
	half=$("$PY" -c 'import sys
d = float(sys.argv[1] or 0); n = int(sys.argv[2]) * int(sys.argv[3]) * int(sys.argv[4])
print("%.3f" % (d / 2 / n) if d > 0 else "")' "${dps:-0}" "$rooms" "$senders" "$clients")
	if [ -n "$half" ]; then
		bench "$tag-half" "${common[@]}" --mode fixed --rate "$half"
		record "$s" "$w" half "$r" "$LOGS/$tag-half.out" "$LAST_CMD"
	fi
	if [ "$s" = ours ] && [ "$w" = M2 ]; then
		OURS_M2_HALF=$half
	fi
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# cpu_step REP: M2 --mode fixed at ours' half-load rate (per sender,
# $OURS_M2_HALF) for $CPU_DUR s against ours (1 worker), then ours-w2,
# each with --server-pid: phase "cpu" of both, for the scaling target.
cpu_step() {
	local r=$1 s port
	for s in ours ours-w2; do
		port=$(free_port)
		start_or_note "$s" "$port" "M2-cpu-r$r" "M2" cpu "$r" || continue
		local tag="$s-M2-r$r-cpu"
		bench "$tag" --port "$port" --path '/ws/chat/bench{room}/' --rooms "$M2_ROOMS" \
			--clients "$M2_CLIENTS" --senders "$M2_SENDERS" --duration "$CPU_DUR" \
			--warmup "$WARM" --drain "$DRAIN" --mode fixed --rate "$OURS_M2_HALF" \
			--server-pid "$(real_pid "$SERVER_PID" "$port")"
		record "$s" M2 cpu "$r" "$LOGS/$tag.out" "$LAST_CMD"
		stop_pid "$SERVER_PID"
		SERVER_PID=
	done
}

idle() {
	local s=$1 r=$2 port
	port=$(free_port)
	start_or_note "$s" "$port" "M3-r$r" "M3" idle "$r" || return 0
	sleep 0.5 # let the server's RSS settle before the baseline
	local tag="$s-M3-r$r"
	bench "$tag" --port "$port" --path /ws/chat/idle/ --mode idle --connections "$M3_CONNS" \
		--hold "$M3_HOLD" --server-pid "$SERVER_PID"
	record "$s" M3 idle "$r" "$LOGS/$tag.out" "$LAST_CMD"
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# M4: listen on /notifications/ while a separate process publishes through Redis.
publish() {
	local s=$1 r=$2 port
	port=$(free_port)
	start_or_note "$s" "$port" "M4-r$r" "M4" listen "$r" || return 0
	local tag="$s-M4-r$r" expect="$LOGS/$s-M4-r$r.expect"
	# The listener's --duration counts from the end of its connect phase;
	# the publisher starts once every listener is connected (as the server
	# sees it), so the listener covers the whole publish plus 2.5 s.
	local listen_dur
	listen_dur=$("$PY" -c "print($M4_DUR + 2.5)")
	LAST_CMD="channels-benchmark --port $port --path /notifications/ --mode listen --clients $M4_CLIENTS --duration $listen_dur --expect-file $expect"
	echo "  $LAST_CMD" >&2
	rm -f "$expect"
	taskset -c 1 "$BENCH" --port "$port" --path /notifications/ --mode listen \
		--clients "$M4_CLIENTS" --duration "$listen_dur" --expect-file "$expect" \
		--json --quiet >"$LOGS/$tag.out" 2>"$LOGS/$tag.err" &
	local lpid=$! lcmd=$LAST_CMD i
	for i in $(seq 1 600); do
		[ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -ge "$M4_CLIENTS" ] && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.5 # group_add of the last ones
	bench "$tag-pub" --mode publish --redis "$REDIS_URL" --layer-prefix asgi --group gossip \
		--rate "$M4_RATE" --duration "$M4_DUR" --expect-file "$expect"
	record "$s" M4 publish "$r" "$LOGS/$tag-pub.out" "$LAST_CMD"
	wait "$lpid" || true
	record "$s" M4 listen "$r" "$LOGS/$tag.out" "$lcmd"
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# ---- the run -------------------------------------------------------------
"$PY" - "$OUT" "$QUICK" "$REPEAT" "bench/run.sh ${ORIG_ARGS[*]}" <<'EOF'
import json, os, platform, subprocess, sys, time
out, quick, repeat, cmd = sys.argv[1:5]
model = cores = ""
try:
    for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        k, _, v = l.partition(":")
        if k.strip() == "Model name":
            model = v.strip()
        elif k.strip() == "CPU(s)":
            cores = v.strip()
except OSError:
    pass
meta = {"meta": {"command": cmd.strip(), "quick": quick == "1", "repeat": int(repeat),
                 "cpu": model, "cores": cores, "kernel": platform.release(),
                 "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                 "pinning": "servers on CPU 0, load generator and redis-server on CPU 1"}}
with open(out, "a") as f:
    f.write(json.dumps(meta) + "\n")
EOF

ORDER=(ours ours-redis ours-w2 reference node daphne-memory daphne-redis)
for r in $(seq 1 "$REPEAT"); do
	echo "== repeat $r/$REPEAT" >&2
	for s in "${ORDER[@]}"; do
		[ -n "${WANT[$s]:-}" ] || continue
		if [ -n "${WL[M1]:-}" ] && [ "$s" != ours-w2 ]; then
			echo "== $s M1" >&2
			chat "$s" M1 "$r" "$M1_ROOMS" "$M1_CLIENTS" "$M1_SENDERS" "$M1_RATE"
		fi
		if [ -n "${WL[M2]:-}" ]; then
			echo "== $s M2" >&2
			OURS_M2_HALF=
			chat "$s" M2 "$r" "$M2_ROOMS" "$M2_CLIENTS" "$M2_SENDERS" "$M2_RATE"
			if [ "$s" = ours ] && [ -n "${WANT[ours-w2]:-}" ]; then
				if [ -n "$OURS_M2_HALF" ]; then
					echo "== ours, ours-w2 M2 server CPU at $OURS_M2_HALF msg/s per sender" >&2
					cpu_step "$r"
				else
					echo "run.sh: ours found no M2 max: no cpu step" >&2
				fi
			fi
		fi
		case "$s" in ours|reference|node|daphne-memory)
			if [ -n "${WL[M3]:-}" ]; then
				echo "== $s M3" >&2
				idle "$s" "$r"
			fi ;;
		esac
		case "$s" in ours-redis|daphne-redis)
			if [ -n "${WL[M4]:-}" ]; then
				echo "== $s M4" >&2
				publish "$s" "$r"
			fi ;;
		esac
	done
done

echo "results: $OUT (logs in $LOGS)" >&2
if [ "$REPORT" = 1 ]; then
	python3 "$ROOT/bench/report.py" "$OUT" -o "$ROOT/BENCHMARKS.md"
	echo "report: $ROOT/BENCHMARKS.md" >&2
fi
