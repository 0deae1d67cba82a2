#!/usr/bin/env bash
# postgres.sh — a throwaway PostgreSQL 15 for tests and `make rehearse`.
#
#   scripts/postgres.sh start   install (if needed), init, start; print the URL
#   scripts/postgres.sh url     print the URL of the running cluster
#   scripts/postgres.sh stop    stop it (the data directory is kept)
#
# Idempotent; meant to run as root (CI does) on Debian 12. The server runs as
# the `postgres` user because initdb and postgres refuse to run as root.
# stdout carries only the URL; everything else goes to stderr.
set -euo pipefail

DIR="${FLAVORMONK_PG_DIR:-/tmp/flavormonk-pg}"
PORT="${FLAVORMONK_PG_PORT:-54329}"
PGDATA="$DIR/data"
PWFILE="$DIR/password"
LOG="$DIR/postgres.log"
DBUSER=flavormonk
DBNAME=flavormonk

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# pgbin finds the PostgreSQL server binaries: the newest
# /usr/lib/postgresql/*/bin, else whatever is on PATH.
pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			echo "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

as_postgres() { runuser -u postgres -- "$@"; }

install_postgres() {
	[[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root"
	log "installing PostgreSQL 15"
	export DEBIAN_FRONTEND=noninteractive
	# Only refresh the package lists when they do not know the package.
	if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
		apt-get update >&2
	fi
	local pkg=postgresql-15
	apt-cache show "$pkg" >/dev/null 2>&1 || pkg=postgresql # not Debian 12: its default
	apt-get install -y --no-install-recommends "$pkg" >&2
}

url() {
	[[ -r "$PWFILE" ]] || die "no cluster in $DIR (run: $0 start)"
	local pw
	pw=$(cat "$PWFILE")
	echo "postgres://$DBUSER:$pw@127.0.0.1:$PORT/$DBNAME?sslmode=disable"
}

# running reports whether the cluster's postmaster is alive. A postmaster.pid
# left by a killed server (a session or CI run ends by killing everything)
# is removed, so the next start is not fooled by it.
running() {
	local pidfile="$PGDATA/postmaster.pid" pid
	[[ -f "$PGDATA/PG_VERSION" && -f "$pidfile" ]] || return 1
	pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
	if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
		return 0
	fi
	log "removing a stale postmaster.pid (pid $pid is gone)"
	rm -f "$pidfile"
	return 1
}

psql_local() {
	local bin=$1
	shift
	as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres "$@"
}

start() {
	[[ $(id -u) -eq 0 ]] || die "run as root (the cluster runs as the postgres user)"
	local bin
	if ! bin=$(pgbin); then
		install_postgres
		bin=$(pgbin) || die "initdb not found after installing PostgreSQL"
	fi
	id postgres >/dev/null 2>&1 || die "no postgres user (install the postgresql package)"

	mkdir -p "$DIR"
	chown postgres:postgres "$DIR"
	chmod 0700 "$DIR"

	if [[ ! -s "$PWFILE" ]]; then
		(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PWFILE")
	fi
	chown postgres:postgres "$PWFILE"
	chmod 0600 "$PWFILE"

	if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
		log "creating a cluster in $PGDATA"
		rm -rf "$PGDATA"
		# Local socket connections trust the OS user (peer); TCP needs a password.
		as_postgres "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
			--auth-local=peer --auth-host=scram-sha-256 >&2
		cat >>"$PGDATA/postgresql.conf" <<EOF

# flavormonk test cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
password_encryption = 'scram-sha-256'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
EOF
	fi

	if ! running "$bin"; then
		log "starting PostgreSQL on 127.0.0.1:$PORT"
		# A killed server's processes may linger a moment as zombies holding
		# the socket lock: retry a few times before giving up.
		local try
		for try in 1 2 3 4 5; do
			if as_postgres "$bin/pg_ctl" -D "$PGDATA" -l "$LOG" -w -t 60 start >&2; then
				break
			fi
			[[ $try -eq 5 ]] && { tail -n 20 "$LOG" >&2 || true; die "PostgreSQL did not start"; }
			sleep 2
			running "$bin" && break
		done
	fi

	local i
	for i in $(seq 1 60); do
		if "$bin/pg_isready" -q -h "$DIR" -p "$PORT" 2>/dev/null; then
			break
		fi
		[[ $i -eq 60 ]] && die "PostgreSQL is not ready after 30s"
		sleep 0.5
	done

	# The role's password always matches the file, so a lost password file heals.
	local pw
	pw=$(cat "$PWFILE")
	psql_local "$bin" -v pw="$pw" -v user="$DBUSER" <<'EOF'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'user', :'pw') \gexec
EOF
	psql_local "$bin" -v db="$DBNAME" -v user="$DBUSER" <<'EOF'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
EOF
	url
}

stop() {
	local bin
	bin=$(pgbin) || { log "PostgreSQL is not installed"; return 0; }
	if running "$bin"; then
		as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >&2
	else
		log "not running"
	fi
}

case "${1:-}" in
start) start ;;
url)
	bin=$(pgbin) || die "PostgreSQL is not installed"
	running "$bin" || die "PostgreSQL is not running in $DIR (run: $0 start)"
	url
	;;
stop) stop ;;
*)
	echo "usage: $0 start|url|stop" >&2
	exit 2
	;;
esac
