#!/bin/bash
# flavormonk-chroma-run — ExecStart of flavormonk-chroma.service: the pinned
# ChromaDB image, its data on the data volume, published on the private
# address only (nftables admits the app nodes alone, before any DNAT).
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
ip=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 120)
exec /usr/bin/docker run --rm --name flavormonk-chroma \
	--publish "$ip:$FLAVORMONK_DATA_PORT:8000" \
	--volume "$FLAVORMONK_DATA_MOUNT/chroma:$FLAVORMONK_CHROMA_PATH" \
	--env ANONYMIZED_TELEMETRY=FALSE --env IS_PERSISTENT=TRUE \
	--log-driver journald \
	"$FLAVORMONK_CHROMA_IMAGE"
