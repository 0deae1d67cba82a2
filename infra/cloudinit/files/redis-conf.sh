#!/bin/bash
# flavormonk-redis-conf — ExecStartPre of redis-server.service: bind to
# localhost and this host's private address, and cap memory at 60% of RAM
# (Redis is a cache here: least-recently-used keys go first).
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
ip=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 120)
kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
conf=/etc/redis/flavormonk-runtime.conf
{
	echo "# written by flavormonk-redis-conf at every start"
	echo "bind 127.0.0.1 -::1 $ip"
	echo "maxmemory $((kb * 6 / 10))kb"
} >"$conf.tmp"
chown redis:redis -- "$conf.tmp"
chmod 0640 -- "$conf.tmp"
mv -f -- "$conf.tmp" "$conf"
