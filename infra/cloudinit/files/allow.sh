#!/bin/bash
# flavormonk-allow ADDR[/BITS]... — replace the set of private addresses
# admitted to this data host's service port: the DATA_CLIENTS define in
# /etc/nftables.conf and, on the db host, the flavormonk block of
# pg_hba.conf. Every address must lie inside the private network. The remote
# command runs it when app nodes come and go (user data is not re-run).
set -euo pipefail
. /etc/flavormonk/host.env
. /usr/local/lib/flavormonk/net.sh
NFT_CONF=${FLAVORMONK_NFT_CONF:-/etc/nftables.conf}
log() { echo "flavormonk-allow: $*" >&2; }
[[ $# -ge 1 ]] || {
	log "usage: flavormonk-allow ADDR[/BITS]..."
	exit 2
}
for a in "$@"; do
	if ! fm_in_cidr "$a" "$FLAVORMONK_PRIVATE_CIDR"; then
		log "FAILED: $a is not an IPv4 address or network inside $FLAVORMONK_PRIVATE_CIDR"
		exit 2
	fi
done
list=$(printf '%s, ' "$@")
list=${list%, }

cp -p -- "$NFT_CONF" "$NFT_CONF.flavormonk-prev"
sed -i "s|^define DATA_CLIENTS = .*|define DATA_CLIENTS = { $list }|" "$NFT_CONF"
if ! nft -c -f "$NFT_CONF"; then
	mv -f -- "$NFT_CONF.flavormonk-prev" "$NFT_CONF"
	log "FAILED: the new rules do not load; kept the old ones"
	exit 1
fi
if [[ -z "${FLAVORMONK_ALLOW_NO_RELOAD:-}" ]]; then
	nft -f "$NFT_CONF"
fi

if [[ "$FLAVORMONK_ROLE" == db ]]; then
	hba=${FLAVORMONK_PG_HBA:-/etc/postgresql/$FLAVORMONK_PG_VERSION/main/pg_hba.conf}
	tmp=$(mktemp "$hba.XXXXXX")
	skip=0
	while IFS= read -r line || [[ -n "$line" ]]; do
		[[ "$line" == "# END flavormonk data clients" ]] && skip=0
		((skip)) || printf '%s\n' "$line"
		if [[ "$line" == "# BEGIN flavormonk data clients" ]]; then
			skip=1
			for a in "$@"; do
				[[ $a == */* ]] || a=$a/32
				printf 'hostssl\t%s\t%s\t%s\tscram-sha-256\n' "$FLAVORMONK_DB_NAME" "$FLAVORMONK_DB_ROLE" "$a"
			done
		fi
	done <"$hba" >"$tmp"
	chown --reference="$hba" -- "$tmp"
	chmod --reference="$hba" -- "$tmp"
	mv -f -- "$tmp" "$hba"
	if [[ -z "${FLAVORMONK_ALLOW_NO_RELOAD:-}" ]]; then
		systemctl reload "postgresql@$FLAVORMONK_PG_VERSION-main"
	fi
fi
log "admitted to port $FLAVORMONK_DATA_PORT: $list"
