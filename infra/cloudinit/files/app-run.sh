#!/bin/bash
# flavormonk-app-run [COLOUR] — ExecStart of flavormonk@COLOUR.service: the
# image named in /etc/flavormonk/image-COLOUR (set by flavormonk-deploy) as
# container flavormonk-COLOUR on the host network, so its listeners are
# exactly the addresses flavormonk-app-env chose. Without COLOUR:
# flavormonk.service of hosts made before the colours (/etc/flavormonk/image,
# container flavormonk).
set -euo pipefail
root=${FM_ROOT:-}
colour=${1:-}
case $colour in
blue | green | "") ;;
*)
	echo "flavormonk-app-run: colour '$colour'? (blue or green)" >&2
	exit 1
	;;
esac
sfx=${colour:+-$colour}
image=$(head -n 1 "$root/etc/flavormonk/image$sfx")
exec "${FM_DOCKER:-/usr/bin/docker}" run --rm --name "flavormonk$sfx" \
	--network host \
	--env-file "$root/run/flavormonk/env$sfx" \
	--cap-drop ALL --security-opt no-new-privileges \
	--log-driver journald \
	"$image"
