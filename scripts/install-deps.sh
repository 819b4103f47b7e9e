#!/usr/bin/env bash
# Installs the Debian 12 packages channels-c needs (media-types brings
# /etc/mime.types, which gives static files their Content-Type). Idempotent: packages
# already present are not fetched again, and apt-get update runs only when
# something is missing.
#   scripts/install-deps.sh          build + run
#   scripts/install-deps.sh --test   also what the tests use (redis, chromium,
#                                    Django Channels for interop, node/npm; make,
#                                    groff and man for the install test)
set -euo pipefail

pkgs=(gcc meson ninja-build pkg-config libwebsockets-dev libuv1-dev libhiredis-dev
      libjansson-dev node-llhttp libmsgpack-dev libpcre2-dev libssl-dev
      zlib1g-dev media-types)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(redis-server chromium python3 python3-channels-redis python3-django-channels daphne
        python3-websockets make groff-base man-db binutils nginx)
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
