#!/bin/bash
# flavormonk-backup — nightly logical backup of the Flavor Monk database.
#
# Writes a custom-format pg_dump to $FLAVORMONK_BACKUP_DIR as
# flavormonk-YYYYmmddTHHMMSSZ.dump (temporary file, fsync, rename), a
# sha256sum-style sidecar beside it, keeps the newest $FLAVORMONK_BACKUP_KEEP
# dumps and deletes older ones, then copies the new dump to S3-compatible
# object storage when $FLAVORMONK_BACKUP_ENV names the endpoint and bucket.
#
# Every setting comes from the environment, with the db server's defaults, so
# the restore drill in infra/backup runs this very script against a test
# database:
#   FLAVORMONK_BACKUP_DB     libpq connection string or URL   (dbname=flavormonk)
#   FLAVORMONK_BACKUP_DIR    where dumps are kept              (/mnt/backup)
#   FLAVORMONK_BACKUP_KEEP   how many dumps to keep            (14)
#   FLAVORMONK_BACKUP_RUNAS  run pg_dump as this user when root (empty: as is)
#   FLAVORMONK_BACKUP_PGBIN  folder of pg_dump/pg_restore       (newest /usr/lib/postgresql/*/bin)
#   FLAVORMONK_BACKUP_ENV    S3 settings file                  (/etc/flavormonk/backup.env)
#   FLAVORMONK_BACKUP_RCLONE rclone binary                     (rclone)
#
# The S3 settings file (written over SSH, never in user data) holds
# FLAVORMONK_BACKUP_S3_ENDPOINT, _BUCKET, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY
# and optionally _REGION and _PREFIX, one KEY=VALUE a line.
#
# Exit status: 0 when the dump (and the copy, when configured) succeeded;
# non-zero after a line starting "flavormonk-backup: FAILED:" otherwise.
set -euo pipefail
umask 077

DB=${FLAVORMONK_BACKUP_DB:-dbname=flavormonk}
DIR=${FLAVORMONK_BACKUP_DIR:-/mnt/backup}
KEEP=${FLAVORMONK_BACKUP_KEEP:-14}
RUNAS=${FLAVORMONK_BACKUP_RUNAS:-}
PGBIN=${FLAVORMONK_BACKUP_PGBIN:-}
ENVFILE=${FLAVORMONK_BACKUP_ENV:-/etc/flavormonk/backup.env}
RCLONE=${FLAVORMONK_BACKUP_RCLONE:-rclone}
PREFIX=flavormonk

STEP="starting"
TMP=""
log() { echo "flavormonk-backup: $*" >&2; }
fail() {
	log "FAILED: $*"
	exit 1
}
on_err() {
	local rc=$?
	trap - ERR
	if [[ -n "$TMP" ]]; then rm -f -- "$TMP" "$TMP.sha256"; fi
	log "FAILED: $STEP (exit status $rc)"
	exit "$rc"
}
trap on_err ERR
trap 'if [[ -n "$TMP" ]]; then rm -f -- "$TMP" "$TMP.sha256"; fi' EXIT

[[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || fail "FLAVORMONK_BACKUP_KEEP must be a positive integer, not '$KEEP'"
[[ -d "$DIR" ]] || fail "backup folder $DIR does not exist (is the backup volume mounted?)"

if [[ -z "$PGBIN" ]]; then
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/pg_dump" ]]; then
			PGBIN=$d
			break
		fi
	done
fi
if [[ -n "$PGBIN" ]]; then
	PG_DUMP=$PGBIN/pg_dump
	PG_RESTORE=$PGBIN/pg_restore
else
	PG_DUMP=$(command -v pg_dump) || fail "pg_dump not found"
	PG_RESTORE=$(command -v pg_restore) || fail "pg_restore not found"
fi
[[ -x "$PG_DUMP" && -x "$PG_RESTORE" ]] || fail "pg_dump/pg_restore not found in $PGBIN"

# One run at a time per folder.
exec 9>>"$DIR/.flavormonk-backup.lock"
flock -n 9 || fail "another backup is running in $DIR"

# Leftovers of an interrupted run.
rm -f -- "$DIR"/.flavormonk-*.tmp "$DIR"/.flavormonk-*.tmp.sha256

# A name nobody has taken yet (two runs in one second wait for the next).
while :; do
	STAMP=$(date -u +%Y%m%dT%H%M%SZ)
	NAME=$PREFIX-$STAMP.dump
	[[ -e "$DIR/$NAME" ]] || break
	sleep 1
done
FINAL=$DIR/$NAME
TMP=$DIR/.$PREFIX-$STAMP.tmp

STEP="pg_dump"
if [[ -n "$RUNAS" && $(id -u) -eq 0 ]]; then
	runuser -u "$RUNAS" -- "$PG_DUMP" --format=custom --no-password --dbname="$DB" >"$TMP"
else
	"$PG_DUMP" --format=custom --no-password --dbname="$DB" >"$TMP"
fi

STEP="checking the dump with pg_restore --list"
"$PG_RESTORE" --list "$TMP" >/dev/null

STEP="checksum"
SUM=$(sha256sum <"$TMP")
SUM=${SUM%% *}
printf '%s  %s\n' "$SUM" "$NAME" >"$TMP.sha256"

STEP="fsync and rename"
sync -- "$TMP" "$TMP.sha256"
mv -f -- "$TMP" "$FINAL"
mv -f -- "$TMP.sha256" "$FINAL.sha256"
TMP=""
sync -- "$DIR"
SIZE=$(stat -c %s -- "$FINAL")
log "wrote $FINAL ($SIZE bytes, sha256 $SUM)"

STEP="rotation"
mapfile -t DUMPS < <(find "$DIR" -maxdepth 1 -type f -name "$PREFIX-*.dump" -printf '%f\n' | LC_ALL=C sort -r)
REMOVED=0
for ((i = KEEP; i < ${#DUMPS[@]}; i++)); do
	rm -f -- "$DIR/${DUMPS[$i]}" "$DIR/${DUMPS[$i]}.sha256"
	REMOVED=$((REMOVED + 1))
done
# Sidecars whose dump is gone.
for s in "$DIR"/"$PREFIX"-*.dump.sha256; do
	if [[ -e "$s" && ! -e "${s%.sha256}" ]]; then rm -f -- "$s"; fi
done
sync -- "$DIR"
KEPT=$((${#DUMPS[@]} - REMOVED))
log "kept $KEPT dump(s), removed $REMOVED"

# Optional copy to S3-compatible storage.
S3_ENDPOINT="" S3_BUCKET="" S3_KEY="" S3_SECRET="" S3_REGION="" S3_PREFIX=""
if [[ -r "$ENVFILE" ]]; then
	STEP="reading $ENVFILE"
	while IFS= read -r line || [[ -n "$line" ]]; do
		line=${line%$'\r'}
		[[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
		key=${line%%=*}
		val=${line#*=}
		if [[ "$val" =~ ^\"(.*)\"$ || "$val" =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
		case "$key" in
		FLAVORMONK_BACKUP_S3_ENDPOINT) S3_ENDPOINT=$val ;;
		FLAVORMONK_BACKUP_S3_BUCKET) S3_BUCKET=$val ;;
		FLAVORMONK_BACKUP_S3_ACCESS_KEY_ID) S3_KEY=$val ;;
		FLAVORMONK_BACKUP_S3_SECRET_ACCESS_KEY) S3_SECRET=$val ;;
		FLAVORMONK_BACKUP_S3_REGION) S3_REGION=$val ;;
		FLAVORMONK_BACKUP_S3_PREFIX) S3_PREFIX=$val ;;
		esac
	done <"$ENVFILE"
fi
if [[ -n "$S3_ENDPOINT" && -n "$S3_BUCKET" ]]; then
	STEP="copy to s3://$S3_BUCKET/$S3_PREFIX$NAME at $S3_ENDPOINT"
	[[ -n "$S3_KEY" && -n "$S3_SECRET" ]] || fail "$STEP: $ENVFILE lacks FLAVORMONK_BACKUP_S3_ACCESS_KEY_ID or _SECRET_ACCESS_KEY"
	command -v "$RCLONE" >/dev/null || fail "$STEP: $RCLONE not found"
	# rclone takes its remote from the environment: no config file holds keys.
	export RCLONE_CONFIG_FLAVORMONKS3_TYPE=s3
	export RCLONE_CONFIG_FLAVORMONKS3_PROVIDER=Other
	export RCLONE_CONFIG_FLAVORMONKS3_ENDPOINT=$S3_ENDPOINT
	export RCLONE_CONFIG_FLAVORMONKS3_ACCESS_KEY_ID=$S3_KEY
	export RCLONE_CONFIG_FLAVORMONKS3_SECRET_ACCESS_KEY=$S3_SECRET
	export RCLONE_CONFIG_FLAVORMONKS3_REGION=${S3_REGION:-us-east-1}
	export RCLONE_CONFIG_FLAVORMONKS3_NO_CHECK_BUCKET=true
	REMOTE="flavormonks3:$S3_BUCKET/$S3_PREFIX"
	"$RCLONE" copyto --retries 3 -- "$FINAL" "$REMOTE$NAME"
	"$RCLONE" copyto --retries 3 -- "$FINAL.sha256" "$REMOTE$NAME.sha256"
	log "copied $NAME to s3://$S3_BUCKET/$S3_PREFIX$NAME"
else
	log "no S3 copy configured (${ENVFILE} lacks an endpoint and bucket)"
fi
log "ok $NAME"
