#!/bin/bash
# flavormonk-app-run — ExecStart of flavormonk.service: the image named in
# /etc/flavormonk/image (set by flavormonk-deploy) on the host network, so
# its listeners are exactly the addresses flavormonk-app-env chose.
set -euo pipefail
image=$(head -n 1 /etc/flavormonk/image)
exec /usr/bin/docker run --rm --name flavormonk \
	--network host \
	--env-file /run/flavormonk/env \
	--cap-drop ALL --security-opt no-new-privileges \
	--log-driver journald \
	"$image"
