#!/bin/bash
# flavormonk-deploy IMAGE — roll this app server onto IMAGE: pull it, restart
# flavormonk.service on it and wait for /readyz to answer 200. When it does
# not within FLAVORMONK_DEPLOY_TIMEOUT seconds (default 180), go back to the
# previous image and exit 1, so a rolling remote command stops there.
set -euo pipefail
image=${1:?usage: flavormonk-deploy IMAGE}
timeout=${FLAVORMONK_DEPLOY_TIMEOUT:-180}
log() { echo "flavormonk-deploy: $*" >&2; }
if [[ ! -f /etc/flavormonk/env ]]; then
	log "FAILED: /etc/flavormonk/env is missing (write it before deploying)"
	exit 1
fi
if [[ "$image" =~ [[:space:]] ]]; then
	log "FAILED: '$image' is not an image reference"
	exit 2
fi

ready() {
	local i addr
	for ((i = 0; i < timeout; i += 2)); do
		addr=$(cat /run/flavormonk/addr 2>/dev/null || true)
		if [[ -n "$addr" ]] && curl -fsS -o /dev/null --max-time 3 "http://$addr/readyz"; then
			return 0
		fi
		sleep 2
	done
	return 1
}
use() {
	printf '%s\n' "$1" >/etc/flavormonk/image.tmp
	chmod 0644 /etc/flavormonk/image.tmp
	mv -f /etc/flavormonk/image.tmp /etc/flavormonk/image
	systemctl restart flavormonk.service
}

log "pulling $image"
docker pull --quiet "$image" >/dev/null
prev=$(head -n 1 /etc/flavormonk/image 2>/dev/null || true)
use "$image"
if ready; then
	log "ok: $image is ready on $(cat /run/flavormonk/addr)"
	exit 0
fi
log "FAILED: $image did not become ready within ${timeout}s"
journalctl -u flavormonk.service -n 40 --no-pager >&2 || true
if [[ -n "$prev" && "$prev" != "$image" ]]; then
	log "rolling back to $prev"
	use "$prev"
	if ready; then log "rolled back to $prev"; else log "the previous image $prev is not ready either"; fi
fi
exit 1
