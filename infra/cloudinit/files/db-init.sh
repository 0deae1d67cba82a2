#!/bin/bash
# flavormonk-db-init — first boot of the db server, after its data volume is
# mounted: creates the PostgreSQL cluster on the volume, or integrates the
# cluster already there (a replaced server keeps its data), installs the
# Flavor Monk configuration and starts it. Idempotent.
set -euo pipefail
. /etc/flavormonk/host.env
V=$FLAVORMONK_PG_VERSION
ETC=/etc/postgresql/$V/main
DATA=$FLAVORMONK_DATA_MOUNT/postgresql/$V/main
log() { echo "flavormonk-db-init: $*" >&2; }

mountpoint -q -- "$FLAVORMONK_DATA_MOUNT" || {
	log "FAILED: $FLAVORMONK_DATA_MOUNT is not mounted"
	exit 1
}
# Another major's data and none of this one (a replaced server, another image):
# an empty cluster would start the app on an empty database. README runbook.
if [[ ! -f "$DATA/PG_VERSION" ]]; then
	other=
	for f in "$FLAVORMONK_DATA_MOUNT"/postgresql/*/main/PG_VERSION; do
		[[ -f "$f" ]] || continue
		m=${f#"$FLAVORMONK_DATA_MOUNT"/postgresql/}
		m=${m%%/*}
		[[ "$m" == "$V" ]] || other+=" $m"
	done
	if [[ -n "$other" && ! -f "$FLAVORMONK_DATA_MOUNT/postgresql/new-major-$V" ]]; then
		log "FAILED: the data volume holds PostgreSQL$other data and this server runs PostgreSQL $V." \
			"Set serverImage back and replace this server again (README: Changing serverImage)."
		exit 1
	fi
fi
install -d -o postgres -g postgres -m 0755 -- "$FLAVORMONK_DATA_MOUNT/postgresql" "$FLAVORMONK_DATA_MOUNT/postgresql/$V"
# A volume from a replaced server may carry another uid for postgres.
if [[ -f "$DATA/PG_VERSION" && "$(stat -c %u -- "$DATA/PG_VERSION")" != "$(id -u postgres)" ]]; then
	log "re-owning $FLAVORMONK_DATA_MOUNT/postgresql to this host's postgres user"
	chown -R postgres:postgres -- "$FLAVORMONK_DATA_MOUNT/postgresql"
fi
if [[ ! -f "$ETC/postgresql.conf" ]]; then
	if [[ -f "$DATA/PG_VERSION" ]]; then
		log "integrating the existing cluster in $DATA"
	else
		log "creating a new cluster in $DATA"
	fi
	pg_createcluster --datadir="$DATA" --start-conf=auto "$V" main -- --data-checksums --auth-local=peer --auth-host=scram-sha-256 >&2
fi
install -d -o postgres -g postgres -m 0755 -- "$ETC/conf.d"
install -o postgres -g postgres -m 0644 -- /etc/flavormonk/postgresql/50-flavormonk.conf "$ETC/conf.d/50-flavormonk.conf"
install -o postgres -g postgres -m 0640 -- /etc/flavormonk/postgresql/pg_hba.conf "$ETC/pg_hba.conf"
systemctl daemon-reload
systemctl enable "postgresql@$V-main" >&2
systemctl restart "postgresql@$V-main"
for ((i = 0; i < 60; i++)); do
	if runuser -u postgres -- pg_isready -q; then
		log "PostgreSQL $V is ready on $FLAVORMONK_DATA_MOUNT"
		exit 0
	fi
	sleep 2
done
log "FAILED: PostgreSQL $V did not become ready"
exit 1
