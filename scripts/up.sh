#!/bin/sh
# Sets up and starts a node on a fresh Debian machine with Node.js 20, then `npm start` with the
# arguments given. Works in a root shell (no sudo there) and as a user with sudo.
#   ./scripts/up.sh [node arguments]          libvirt's client library: the node drives the test driver
#   ./scripts/up.sh --qemu [node arguments]   real guests: QEMU, libvirtd (started here when it does not
#                                             answer), the guest image built, the node on qemu:///system
set -eu
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given that are missing.
install_packages() {
  missing=""
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
  [ -z "$missing" ] && return 0
  echo "up: installing$missing (apt-get)" >&2
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; }
}

qemu=false
if [ "${1:-}" = "--qemu" ]; then
  qemu=true
  shift
fi

install_packages libvirt0
if $qemu; then
  install_packages qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients linux-image-cloud-amd64 busybox-static e2fsprogs genisoimage
  # No systemd needed: the daemons are started by hand when qemu:///system does not answer.
  if ! as_root virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "up: starting virtlogd and libvirtd" >&2
    as_root virtlogd -d
    as_root libvirtd -d
    tries=0
    until as_root virsh -c qemu:///system version >/dev/null 2>&1; do
      tries=$((tries + 1))
      [ "$tries" -lt 50 ] || { echo "up: libvirtd does not answer at qemu:///system" >&2; exit 1; }
      sleep 0.2
    done
  fi
fi
# npm ci when the installed tree is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "up: installing the npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
if $qemu; then
  # The node drives the host's daemon and writes its host directory: as root.
  as_root env PATH="$PATH" npm run --silent image -- build
  if [ "$(id -u)" = 0 ]; then exec npm start -- --hypervisor qemu:///system "$@"; fi
  exec sudo env PATH="$PATH" npm start -- --hypervisor qemu:///system "$@"
fi
exec npm start -- "$@"
