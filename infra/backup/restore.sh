#!/bin/bash
# flavormonk-restore — restore a flavormonk-backup dump into an EMPTY database.
#
#   flavormonk-restore DUMP [DATABASE]
#
# DATABASE is a libpq connection string or URL (default: $FLAVORMONK_RESTORE_DB,
# else "dbname=flavormonk"). The dump's sha256 sidecar (DUMP.sha256), when
# present, must match. The target must hold no tables, sequences or views of
# its own: restoring over live data is refused. pg_restore runs with
# --no-owner --no-privileges --exit-on-error --single-transaction, so a failed
# restore leaves the database as empty as it was.
#   FLAVORMONK_RESTORE_RUNAS  run the PostgreSQL clients as this user when root
#   FLAVORMONK_BACKUP_PGBIN   folder of pg_restore/psql (newest /usr/lib/postgresql/*/bin)
set -euo pipefail

log() { echo "flavormonk-restore: $*" >&2; }
fail() {
	log "FAILED: $*"
	exit 1
}

[[ $# -ge 1 && $# -le 2 ]] || fail "usage: flavormonk-restore DUMP [DATABASE]"
DUMP=$1
DB=${2:-${FLAVORMONK_RESTORE_DB:-dbname=flavormonk}}
RUNAS=${FLAVORMONK_RESTORE_RUNAS:-}
PGBIN=${FLAVORMONK_BACKUP_PGBIN:-}

[[ -f "$DUMP" && -r "$DUMP" ]] || fail "$DUMP is not a readable file"

if [[ -z "$PGBIN" ]]; then
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/pg_restore" ]]; then
			PGBIN=$d
			break
		fi
	done
fi
if [[ -n "$PGBIN" ]]; then
	PG_RESTORE=$PGBIN/pg_restore
	PSQL=$PGBIN/psql
else
	PG_RESTORE=$(command -v pg_restore) || fail "pg_restore not found"
	PSQL=$(command -v psql) || fail "psql not found"
fi

as() {
	if [[ -n "$RUNAS" && $(id -u) -eq 0 ]]; then
		runuser -u "$RUNAS" -- "$@"
	else
		"$@"
	fi
}

if [[ -f "$DUMP.sha256" ]]; then
	want=$(cut -d' ' -f1 <"$DUMP.sha256")
	got=$(sha256sum <"$DUMP")
	got=${got%% *}
	[[ "$want" == "$got" ]] || fail "$DUMP: sha256 $got does not match $DUMP.sha256 ($want)"
	log "checksum ok ($got)"
else
	log "no $DUMP.sha256 beside the dump; checksum not verified"
fi

"$PG_RESTORE" --list "$DUMP" >/dev/null || fail "$DUMP is not a pg_dump custom-format archive"

# The dump is read by this shell and handed to pg_restore on stdin, so a
# RUNAS user needs no access to the backup folder.
n=$(as "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 --no-password --dbname="$DB" -c \
	"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.relkind IN ('r','p','S','v','m','f')
	   AND n.nspname NOT IN ('pg_catalog','information_schema')
	   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'") ||
	fail "cannot connect to the target database"
[[ "$n" == 0 ]] || fail "the target database is not empty ($n relations); restore into a new, empty database"

as "$PG_RESTORE" --no-owner --no-privileges --exit-on-error --single-transaction \
	--no-password --dbname="$DB" <"$DUMP" || fail "pg_restore of $DUMP failed; the target is unchanged"
log "restored $DUMP"
