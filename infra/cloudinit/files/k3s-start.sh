#!/bin/bash
# flavormonk-k3s-start [PUBLIC_IP] — run by the remote command with the
# cluster's join token on stdin (never as an argument: arguments are visible
# to every process). Writes it to the token file (0600), adds PUBLIC_IP to
# the API certificate (servers), then enables and starts k3s and waits for
# this node to serve (server: the API's /readyz; agent: the service is up).
set -euo pipefail
# The paths can be moved for tests.
K3S_DIR=${FLAVORMONK_K3S_DIR:-/etc/rancher/k3s}
. "${FLAVORMONK_HOST_ENV:-/etc/flavormonk/host.env}"
log() { echo "flavormonk-k3s-start: $*" >&2; }
public=${1:-}
if [[ -n "$public" ]] && ! [[ "$public" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
	log "FAILED: $public is not an IPv4 address"
	exit 2
fi
umask 077
install -d -m 0700 "$K3S_DIR"
IFS= read -r token || true
token=${token%$'\r'}
if ((${#token} < 32)); then
	log "FAILED: expected the join token (32 characters or more) on stdin"
	exit 2
fi
printf '%s\n' "$token" >"$K3S_DIR/token.new"
mv -f "$K3S_DIR/token.new" "$K3S_DIR/token"
# Flannel's VXLAN runs over the private network: the interface holding
# this node's private address (it may take a moment to come up).
iface=""
for _ in $(seq 1 24); do
	iface=$(ip -o -4 addr show | awk -v ip="$FLAVORMONK_NODE_IP" '{split($4, a, "/"); if (a[1] == ip) { print $2; exit }}')
	[[ -n "$iface" ]] && break
	sleep 5
done
if [[ -z "$iface" ]]; then
	log "FAILED: no interface holds $FLAVORMONK_NODE_IP"
	exit 1
fi
install -d -m 0755 "$K3S_DIR/config.yaml.d"
printf '# written by flavormonk-k3s-start\nflannel-iface: "%s"\n' "$iface" >"$K3S_DIR/config.yaml.d/40-flannel-iface.yaml"
unit=k3s
if [[ "$FLAVORMONK_K3S_ROLE" == agent ]]; then
	unit=k3s-agent
elif [[ -n "$public" ]]; then
	printf '# written by flavormonk-k3s-start: the address kubectl and Pulumi use\ntls-san:\n  - "%s"\n' "$public" \
		>"$K3S_DIR/config.yaml.d/50-public-address.yaml"
fi
systemctl enable "$unit"
systemctl restart "$unit"
for _ in $(seq 1 90); do
	if [[ "$unit" == k3s ]]; then
		if k3s kubectl get --raw /readyz >/dev/null 2>&1; then
			log "server ready"
			exit 0
		fi
	elif systemctl is-active --quiet k3s-agent; then
		log "agent running"
		exit 0
	fi
	sleep 5
done
log "FAILED: $unit did not become ready in 450 s"
journalctl -u "$unit" -n 50 --no-pager >&2 || true
exit 1
