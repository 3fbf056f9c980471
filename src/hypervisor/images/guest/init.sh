#!/bin/sh
# /sbin/init of the discovery image. On the serial console (ttyS0), every line starting with
# "discovery: ": the boot count and the marker kept on this disk, what the NoCloud config drive
# (label cidata) gave (instance id, hostname, user data, SSH keys), the address DHCP leased, the
# block devices, and a heartbeat counter every second. The ACPI power button powers it off.
export PATH=/bin:/sbin
STATE=/var/lib/discovery
CONSOLE=/dev/ttyS0
mount -t proc proc /proc
mount -t sysfs sys /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs dev /dev
mount -t tmpfs run /run
mkdir -p "$STATE" /run/cidata /root/.ssh
say() { echo "discovery: $*" > "$CONSOLE"; }

boots=$(($(cat "$STATE/boot-count" 2>/dev/null || echo 0) + 1))
echo "$boots" > "$STATE/boot-count"
[ -s "$STATE/marker" ] || head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/marker"
sync
say "boot $boots"
say "marker $(cat "$STATE/marker")"

# The config drive: the block device whose iso9660 filesystem carries meta-data.
for dev in /sys/block/*; do
  name=${dev##*/}
  mount -t iso9660 -o ro "/dev/$name" /run/cidata 2>/dev/null || continue
  [ -f /run/cidata/meta-data ] && break
  umount /run/cidata
done
if [ -f /run/cidata/meta-data ]; then
  field() { sed -n "s/^$1: *//p" /run/cidata/meta-data | head -n 1 | tr -d "\"'"; }
  say "instance-id $(field instance-id)"
  host=$(field local-hostname)
  [ -n "$host" ] && hostname "$host"
  say "hostname $(hostname)"
  if [ -f /run/cidata/user-data ]; then
    sed 's/^/discovery: user-data: /' /run/cidata/user-data > "$CONSOLE"
    # ssh_authorized_keys of a #cloud-config, and public-keys of the meta-data: "  - <key>" lines.
    sed -n '/^ssh_authorized_keys:/,/^[^ -]/s/^ *- *//p' /run/cidata/user-data | tr -d "\"'" > /root/.ssh/authorized_keys
  fi
  sed -n '/^public-keys:/,/^[^ -]/s/^ *- *//p' /run/cidata/meta-data | tr -d "\"'" >> /root/.ssh/authorized_keys
  sort -u -o /root/.ssh/authorized_keys /root/.ssh/authorized_keys
  while read -r key; do [ -n "$key" ] && say "ssh-key $key"; done < /root/.ssh/authorized_keys
  # A user-data script (#!) runs, as cloud-init runs one.
  if head -n 1 /run/cidata/user-data 2>/dev/null | grep -q '^#!'; then
    cp /run/cidata/user-data /run/user-data && chmod +x /run/user-data && /run/user-data > "$CONSOLE" 2>&1 &
  fi
else
  say "no config drive"
  say "hostname $(hostname)"
fi

ip link set lo up
for dev in /sys/class/net/eth*; do
  [ -e "$dev" ] || continue
  udhcpc -b -q -t 20 -T 1 -s /etc/discovery/udhcpc.sh -i "${dev##*/}" -x hostname:"$(hostname)" > /dev/null 2>&1
done

acpid -c /etc/acpi -a /etc/acpid.conf -l /dev/null

disks() {
  list=""
  for dev in /sys/block/vd*; do
    [ -e "$dev" ] || continue
    list="$list ${dev##*/}:$(cat "$dev/size"):$(cat "$dev/serial" 2>/dev/null)"
  done
  say "disks$list"
}
disks
i=0
while :; do
  i=$((i + 1))
  say "heartbeat $i"
  if [ $((i % 5)) -eq 0 ]; then
    disks
    # Read back from the disk itself, not from the page cache.
    echo 3 > /proc/sys/vm/drop_caches
    say "marker $(cat "$STATE/marker")"
  fi
  sleep 1
done
