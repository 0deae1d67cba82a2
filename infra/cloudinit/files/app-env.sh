#!/bin/bash
# flavormonk-app-env [COLOUR] — ExecStartPre of flavormonk@COLOUR.service:
# derive the container's environment (/run/flavormonk/env-COLOUR, 0600) from
# /etc/flavormonk/env (written over SSH) with the listen addresses this host
# dictates (host.env): the app on loopback behind Caddy (mvp), on the private
# address behind a load balancer, or on both while Caddy hands over to one;
# /metrics always on loopback. blue listens on FLAVORMONK_APP_PORT (the load
# balancer's target), green on FLAVORMONK_GREEN_PORT, so the two can run side
# by side during a blue/green deploy. Without COLOUR: flavormonk.service of
# hosts made before the colours (blue's ports, /run/flavormonk/env).
# It also notes where this host checks the app (addr-COLOUR, metrics-addr-COLOUR).
# Paths lie under FM_ROOT (empty on a host), for rehearsals and tests.
set -euo pipefail
root=${FM_ROOT:-}
colour=${1:-}
# shellcheck source=/dev/null
. "$root/etc/flavormonk/host.env"
# shellcheck source=net.sh
. "$root/usr/local/lib/flavormonk/net.sh"
case $colour in
blue | "")
	port=$FLAVORMONK_APP_PORT
	metrics=${FLAVORMONK_METRICS_PORT:-9090}
	;;
green)
	port=${FLAVORMONK_GREEN_PORT:-8081}
	metrics=${FLAVORMONK_GREEN_METRICS_PORT:-9091}
	;;
*)
	echo "flavormonk-app-env: colour '$colour'? (blue or green)" >&2
	exit 1
	;;
esac
sfx=${colour:+-$colour}
case "$FLAVORMONK_LISTEN" in
any) addr=:$port ;; # nftables admits the port from lo and the private network only
loopback) addr=127.0.0.1:$port ;;
private) addr=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 120):$port ;;
*)
	echo "flavormonk-app-env: FLAVORMONK_LISTEN=$FLAVORMONK_LISTEN?" >&2
	exit 1
	;;
esac
run=$root/run/flavormonk
install -d -m 0700 "$run"
umask 077
{
	grep -vE '^[[:space:]]*(export[[:space:]]+)?FLAVORMONK_(METRICS_)?ADDR=' "$root/etc/flavormonk/env" || true
	echo "FLAVORMONK_ADDR=$addr"
	echo "FLAVORMONK_METRICS_ADDR=127.0.0.1:$metrics"
} >"$run/env$sfx.tmp"
mv -f "$run/env$sfx.tmp" "$run/env$sfx"
umask 022
# where this host itself checks /readyz and /metrics (flavormonk-deploy)
if [[ $addr == :* ]]; then echo "127.0.0.1$addr"; else echo "$addr"; fi >"$run/addr$sfx"
echo "127.0.0.1:$metrics" >"$run/metrics-addr$sfx"
