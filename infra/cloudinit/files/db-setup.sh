#!/bin/bash
# flavormonk-db-setup [ROLE [DATABASE]] — run by the remote command over SSH
# with the role's password on stdin (never as an argument: arguments are
# visible to every process). Creates the login role or updates its password,
# creates the database it owns when missing. Idempotent.
set -euo pipefail
. /etc/flavormonk/host.env
role=${1:-$FLAVORMONK_DB_ROLE}
db=${2:-$FLAVORMONK_DB_NAME}
log() { echo "flavormonk-db-setup: $*" >&2; }
ident='^[a-z_][a-z0-9_]{0,62}$'
if ! [[ $role =~ $ident && $db =~ $ident ]]; then
	log "FAILED: role and database must be lower-case identifiers"
	exit 2
fi
secret=""
IFS= read -r secret || true
secret=${secret%$'\r'}
if ((${#secret} < 16)); then
	log "FAILED: expected the role's secret (16 characters or more) on stdin"
	exit 2
fi
for ((i = 0; i < 90; i++)); do
	runuser -u postgres -- pg_isready -q && break
	sleep 2
done
runuser -u postgres -- pg_isready -q || {
	log "FAILED: PostgreSQL is not ready (see journalctl -u postgresql@$FLAVORMONK_PG_VERSION-main)"
	exit 1
}
lit=${secret//\'/\'\'}
# The SQL, secret included, reaches psql on stdin.
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
SET log_statement = 'none';
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')
\gexec
ALTER ROLE "$role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '$lit';
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')
\gexec
ALTER DATABASE "$db" OWNER TO "$role";
REVOKE ALL ON DATABASE "$db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "$db" TO "$role";
SQL
log "role $role and database $db are ready"
