#!/bin/bash
# flavormonk-k3s-start [PUBLIC_IP] — run by the remote command with the
# cluster's join token on stdin (never as an argument: arguments are visible
# to every process). Writes it to the token file (0600), adds PUBLIC_IP to
# the API certificate (servers), then enables and starts k3s and waits for
# this node to serve (server: the API's /readyz; agent: the service is up).
set -euo pipefail
. /etc/flavormonk/host.env
log() { echo "flavormonk-k3s-start: $*" >&2; }
umask 077
install -d -m 0700 /etc/rancher/k3s
IFS= read -r token || true
token=${token%$'\r'}
if ((${#token} < 32)); then
	log "FAILED: expected the join token (32 characters or more) on stdin"
	exit 2
fi
printf '%s\n' "$token" >/etc/rancher/k3s/token.new
mv -f /etc/rancher/k3s/token.new /etc/rancher/k3s/token
unit=k3s
if [[ "$FLAVORMONK_K3S_ROLE" == agent ]]; then
	unit=k3s-agent
elif [[ $# -ge 1 && -n "$1" ]]; then
	if ! [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
		log "FAILED: $1 is not an IPv4 address"
		exit 2
	fi
	install -d -m 0755 /etc/rancher/k3s/config.yaml.d
	printf '# written by flavormonk-k3s-start: the address kubectl and Pulumi use\ntls-san:\n  - "%s"\n' "$1" \
		>/etc/rancher/k3s/config.yaml.d/50-public-address.yaml
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
