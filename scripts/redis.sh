#!/usr/bin/env bash
# redis.sh — a private, throwaway Redis for tests and `make rehearse`.
#
#   scripts/redis.sh start [--port N] [--dir D]   install (if needed), start; print the URL
#   scripts/redis.sh url   [--port N] [--dir D]   print the URL of the running instance
#   scripts/redis.sh stop  [--port N] [--dir D]   stop it (SHUTDOWN NOSAVE)
#
# Defaults: port ${FLAVORMONK_REDIS_PORT:-63790}, dir ${FLAVORMONK_REDIS_DIR:-/tmp/flavormonk-redis}.
# --port/--dir let a test run a second, disposable instance (outage tests).
#
# Idempotent; meant to run as root (CI does) on Debian 12. The instance is not
# the system service: it listens on 127.0.0.1 only, requires the password kept
# (mode 0600) in DIR/password, keeps its pidfile and log in DIR, and persists
# nothing. stdout carries only the URL; everything else goes to stderr.
set -euo pipefail

PORT="${FLAVORMONK_REDIS_PORT:-63790}"
DIR="${FLAVORMONK_REDIS_DIR:-/tmp/flavormonk-redis}"

log() { echo "redis.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	echo "usage: $0 start|url|stop [--port N] [--dir D]" >&2
	exit 2
}

cmd="${1:-}"
[[ -n "$cmd" ]] && shift
while [[ $# -gt 0 ]]; do
	case "$1" in
	--port)
		[[ $# -ge 2 ]] || usage
		PORT="$2"
		shift 2
		;;
	--port=*)
		PORT="${1#--port=}"
		shift
		;;
	--dir)
		[[ $# -ge 2 ]] || usage
		DIR="$2"
		shift 2
		;;
	--dir=*)
		DIR="${1#--dir=}"
		shift
		;;
	*) usage ;;
	esac
done
[[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1 && "$PORT" -le 65535 ]] || die "--port must be a TCP port number, got '$PORT'"
[[ -n "$DIR" ]] || die "--dir must not be empty"

PWFILE="$DIR/password"
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"
CONF="$DIR/redis.conf"

install_redis() {
	[[ $(id -u) -eq 0 ]] || die "redis-server is not installed and installing it needs root"
	log "installing redis-server"
	export DEBIAN_FRONTEND=noninteractive
	# Only refresh the package lists when they do not know the package.
	if ! apt-cache show redis-server >/dev/null 2>&1; then
		apt-get update >&2
	fi
	apt-get install -y --no-install-recommends redis-server >&2
	# The package starts the system service; ours is separate and that one
	# is left as the package configured it.
}

password() { cat "$PWFILE"; }

url() {
	[[ -r "$PWFILE" ]] || die "no instance in $DIR (run: $0 start)"
	echo "redis://:$(password)@127.0.0.1:$PORT/0"
}

cli() {
	REDISCLI_AUTH="$(password)" redis-cli --no-auth-warning -h 127.0.0.1 -p "$PORT" "$@"
}

# running reports whether the instance in DIR is alive. A pidfile left by a
# killed server is removed, so the next start is not fooled by it.
running() {
	local pid
	[[ -f "$PIDFILE" ]] || return 1
	pid=$(head -n 1 "$PIDFILE" 2>/dev/null || true)
	if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]] &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
		return 0
	fi
	log "removing a stale pidfile (pid ${pid:-?} is gone)"
	rm -f "$PIDFILE"
	return 1
}

ping_ok() { [[ "$(cli PING 2>/dev/null || true)" == PONG ]]; }

start() {
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		install_redis
		command -v redis-server >/dev/null 2>&1 || die "redis-server not found after installing it"
	fi

	mkdir -p "$DIR"
	chmod 0700 "$DIR"
	if [[ ! -s "$PWFILE" ]]; then
		(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PWFILE")
	fi
	chmod 0600 "$PWFILE"

	# The config is rewritten on every start, so it always matches the
	# password file, port and dir. It is 0600: it holds the password.
	(
		umask 077
		cat >"$CONF" <<EOF
# flavormonk private Redis (scripts/redis.sh); not the system service
bind 127.0.0.1
protected-mode yes
port $PORT
daemonize yes
pidfile $PIDFILE
logfile $LOGFILE
dir $DIR
requirepass $(password)
save ""
appendonly no
maxmemory 256mb
maxmemory-policy allkeys-lru
databases 16
EOF
	)
	chmod 0600 "$CONF"

	if running; then
		if ping_ok; then
			url
			return 0
		fi
		log "the instance in $DIR (pid $(head -n 1 "$PIDFILE")) does not answer PING with the current password; restarting it"
		kill "$(head -n 1 "$PIDFILE")" 2>/dev/null || true
		local j
		for j in $(seq 1 50); do
			running || break
			sleep 0.1
		done
	fi

	log "starting Redis on 127.0.0.1:$PORT (dir $DIR)"
	: >>"$LOGFILE"
	redis-server "$CONF" >&2 || { tail -n 20 "$LOGFILE" >&2 || true; die "redis-server did not start"; }

	local i
	for i in $(seq 1 100); do
		if ping_ok; then
			url
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$LOGFILE" >&2 || true
	die "Redis on 127.0.0.1:$PORT does not answer PING after 10s"
}

stop() {
	if ! running; then
		log "not running (dir $DIR)"
		return 0
	fi
	local pid
	pid=$(head -n 1 "$PIDFILE")
	cli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	local i
	for i in $(seq 1 50); do
		if [[ ! -e "/proc/$pid" ]] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
			rm -f "$PIDFILE"
			return 0
		fi
		sleep 0.1
	done
	log "Redis (pid $pid) ignored SHUTDOWN; sending SIGTERM"
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		[[ -e "/proc/$pid" ]] || break
		sleep 0.1
	done
	rm -f "$PIDFILE"
}

case "$cmd" in
start) start ;;
url)
	running || die "Redis is not running in $DIR (run: $0 start)"
	url
	;;
stop) stop ;;
*) usage ;;
esac
