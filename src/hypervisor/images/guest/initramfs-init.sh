#!/bin/sh
# /init of the discovery image's initramfs: loads the kernel modules the guest needs (listed in
# load order in /etc/modules), finds the root filesystem by its label and hands over to its init.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r module; do insmod "/lib/modules/$module.ko" 2>/dev/null; done < /etc/modules
label=$(sed -n 's/.*discovery.root=\([^ ]*\).*/\1/p' /proc/cmdline)
root=""
tries=0
while [ -z "$root" ] && [ "$tries" -lt 50 ]; do
  root=$(findfs "LABEL=${label:-discovery-root}" 2>/dev/null)
  [ -n "$root" ] || { tries=$((tries + 1)); usleep 100000; }
done
[ -n "$root" ] || { echo "discovery: no root filesystem labelled ${label:-discovery-root}" > /dev/console; poweroff -f; }
mkdir -p /newroot
mount -t ext4 -o rw "$root" /newroot || { echo "discovery: cannot mount $root" > /dev/console; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
