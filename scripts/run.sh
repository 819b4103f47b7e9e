#!/usr/bin/env bash
# The README's first command: install, build, and run the server on
# http://127.0.0.1:8000/ with the in-memory channel layer. Builds
# channels-server and channels-cli (the README uses both). Extra arguments
# go to channels-server (see --help), e.g. scripts/run.sh --port 9000
# Run it as yourself: install-deps.sh calls sudo for apt-get alone. Started
# with sudo anyway, it installs as root, then builds and serves as the user
# who ran sudo (never the build or the server as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  echo "run.sh: started with sudo: packages installed; building and serving as $SUDO_USER" >&2
  mapfile -t keep < <(env | grep -E '^(CHANNELS_[A-Z0-9_]*|CI)=' || true)
  exec sudo -u "$SUDO_USER" -- env "${keep[@]}" "$0" "$@"
fi
[ -d build ] || meson setup build --buildtype=release
ninja -C build apps/channels-server tools/cli/channels-cli
exec build/apps/channels-server "$@"
