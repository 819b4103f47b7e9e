#!/usr/bin/env bash
# The README's second command: install, build and run every test in a
# normal build (build/) and an ASan+UBSan build (build-asan/), and the
# integration suite in a TSan build (build-tsan/).
# Ends with one line "N passed, N failed, N skipped"; exits non-zero if any
# failed, and, when CI=true, if any was skipped (each skipped test is
# listed above that line with its reason).
# CHANNELS_TEST_REDIS_URL, when set, points the Redis tests at a running
# redis-server (CI starts one); otherwise this script starts one.
# Run it as yourself: install-deps.sh calls sudo for apt-get alone. Started
# with sudo anyway, it installs as root, then builds and tests as the user
# who ran sudo.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test || exit 1
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  echo "test.sh: started with sudo: packages installed; building and testing as $SUDO_USER" >&2
  mapfile -t keep < <(env | grep -E '^(CHANNELS_[A-Z0-9_]*|CI)=' || true)
  exec sudo -u "$SUDO_USER" -- env "${keep[@]}" "$0" "$@"
fi

if [ -f tests/browser/package.json ]; then
  (cd tests/browser && npm install --no-audit --no-fund --loglevel=error) || exit 1
fi
if [ -f tests/interop/node/package.json ]; then
  (cd tests/interop/node && npm install --no-audit --no-fund --loglevel=error) || exit 1
fi

# A redis-server for the tests that use a shared one (the others start
# their own), unless the caller (CI) already runs one.
if [ -z "${CHANNELS_TEST_REDIS_URL:-}" ]; then
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis_dir=$(mktemp -d)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" || exit 1
  trap 'kill "$(cat "$redis_dir/redis.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$redis_dir"' EXIT
  export CHANNELS_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
fi

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"

export TSAN_OPTIONS="suppressions=$(pwd)/tests/tsan.supp:halt_on_error=0"

# build: everything; build-asan: everything under ASan+UBSan; build-tsan:
# the integration, Redis and conformance suites (real servers, several
# worker threads) under TSan.
status=0
for dir in build build-asan build-tsan; do
  opts=()
  suites=()
  [ "$dir" = build-asan ] && opts=(-Db_sanitize=address,undefined -Db_lundef=false)
  [ "$dir" = build-tsan ] && opts=(-Db_sanitize=thread -Db_lundef=false) && suites=(--suite integration --suite redis --suite conformance)
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null || status=1
  else
    meson setup "$dir" "${opts[@]}" >/dev/null || status=1
  fi
  ninja -C "$dir" || { status=1; continue; }
  meson test -C "$dir" --print-errorlogs --num-processes 2 "${suites[@]}" || status=1
done

python3 - <<'PY' || status=1
import json, os, sys
passed = failed = skipped = 0
for d in ("build", "build-asan", "build-tsan"):
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1
        print(f"{d}: no test log")
        continue
    for line in open(log):
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            lines = [l.strip() for l in out.splitlines() if l.strip()]
            why = next((l for l in lines if "skip" in l.lower()), lines[-1] if lines else "no reason printed")
            print(f"skipped: {d} {t.get('name')}: {why}")
        else:
            failed += 1
ci_refuses = skipped > 0 and os.environ.get("CI") == "true"
if ci_refuses:
    print("CI=true: a skipped test counts as a failure (the list above gives each reason)")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if ci_refuses else 0)
PY
exit $status
