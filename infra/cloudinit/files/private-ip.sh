#!/bin/bash
# flavormonk-private-ip [WAIT] — this host's IPv4 address in the stack's
# private network (FLAVORMONK_PRIVATE_CIDR in /etc/flavormonk/host.env).
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" "${1:-120}"
