#!/bin/sh
# Run by acpid when the ACPI power button is pressed: the guest powers itself off.
echo "discovery: power button: powering off" > /dev/ttyS0
sync
mount -o remount,ro / 2>/dev/null
poweroff -f
