#!/bin/bash
# flavormonk-pg-listen — ExecStartPre of postgresql@.service: listen on
# localhost and this host's private address only (never on the public one).
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
ip=$(fm_private_ip "$FLAVORMONK_PRIVATE_CIDR" 120)
conf=/etc/postgresql/$FLAVORMONK_PG_VERSION/main/conf.d/60-listen.conf
printf "# written by flavormonk-pg-listen at every start\nlisten_addresses = 'localhost,%s'\n" "$ip" >"$conf.tmp"
chown postgres:postgres -- "$conf.tmp"
chmod 0644 -- "$conf.tmp"
mv -f -- "$conf.tmp" "$conf"
