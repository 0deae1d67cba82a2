#!/bin/bash
# flavormonk-app-env — ExecStartPre of flavormonk.service: derive the
# container's environment (/run/flavormonk/env, 0600) from /etc/flavormonk/env
# (written over SSH) with the listen addresses this host dictates: the app on
# 127.0.0.1:8080 behind Caddy, or on the private address behind a load
# balancer; /metrics always on 127.0.0.1:9090.
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
case "$FLAVORMONK_LISTEN" in
any) addr=:$FLAVORMONK_APP_PORT ;; # nftables admits the port from lo and the private network only
loopback) addr=127.0.0.1:$FLAVORMONK_APP_PORT ;;
private) addr=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 120):$FLAVORMONK_APP_PORT ;;
*)
	echo "flavormonk-app-env: FLAVORMONK_LISTEN=$FLAVORMONK_LISTEN?" >&2
	exit 1
	;;
esac
install -d -m 0700 /run/flavormonk
umask 077
{
	grep -vE '^[[:space:]]*(export[[:space:]]+)?FLAVORMONK_(METRICS_)?ADDR=' /etc/flavormonk/env || true
	echo "FLAVORMONK_ADDR=$addr"
	echo "FLAVORMONK_METRICS_ADDR=127.0.0.1:9090"
} >/run/flavormonk/env.tmp
mv -f /run/flavormonk/env.tmp /run/flavormonk/env
# where this host itself checks /readyz
if [[ $addr == :* ]]; then echo "127.0.0.1$addr"; else echo "$addr"; fi >/run/flavormonk/addr
