#!/bin/sh
# Sets up and starts a node on the embedded defaults, on a fresh Debian machine with Node.js 20:
# libvirt's client library (for the test driver), the npm dependencies, then `npm start` with the
# arguments given. Works in a root shell (no sudo there) and as a user with sudo.
set -eu
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! dpkg -s libvirt0 >/dev/null 2>&1; then
  echo "up: installing libvirt0 (apt-get)" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvirt0 >/dev/null ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvirt0 >/dev/null; }
fi
# npm ci when the installed tree is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "up: installing the npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
exec npm start -- "$@"
