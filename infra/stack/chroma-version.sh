#!/bin/bash
# chroma-version IMAGE — run over SSH (bash -s) on a Chroma host: make the
# pinned image IMAGE the one flavormonk-chroma runs. User data is never
# re-run, so host.env keeps the image of the host's first boot until this
# rewrites it. The image is pulled before the restart, so Chroma is down
# only for the restart itself; nothing happens when it is already current.
set -euo pipefail
img=$1
env=/etc/flavormonk/host.env
if grep -qx "FLAVORMONK_CHROMA_IMAGE=$img" "$env"; then
	echo "chroma-version: $img already runs" >&2
	exit 0
fi
docker pull --quiet "$img" >&2
sed -i "s|^FLAVORMONK_CHROMA_IMAGE=.*|FLAVORMONK_CHROMA_IMAGE=$img|" "$env"
grep -qx "FLAVORMONK_CHROMA_IMAGE=$img" "$env"
systemctl restart flavormonk-chroma
. "$env"
. /usr/local/lib/flavormonk/net.sh
ip=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 30)
for ((i = 0; i < 90; i++)); do
	if curl -fsS -o /dev/null --max-time 3 "http://$ip:$FLAVORMONK_DATA_PORT/api/v2/heartbeat"; then
		echo "chroma-version: $img serves" >&2
		exit 0
	fi
	sleep 2
done
echo "chroma-version: FAILED: $img did not answer its heartbeat (journalctl -u flavormonk-chroma)" >&2
exit 1
