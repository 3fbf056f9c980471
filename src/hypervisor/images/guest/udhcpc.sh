#!/bin/sh
# udhcpc's event script: configures the leased address and says it on the serial console.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "discovery: address $interface $ip/${mask:-24}" > /dev/ttyS0 ;;
esac
exit 0
