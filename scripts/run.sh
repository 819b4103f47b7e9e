#!/usr/bin/env bash
# The README's first command: install, build, and run the server on
# http://127.0.0.1:8000/ with the in-memory channel layer. Extra arguments
# go to channels-server (see --help), e.g. scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build apps/channels-server
exec build/apps/channels-server "$@"
