#!/usr/bin/env bash
# chroma.sh — a local ChromaDB server for tests and `make rehearse`.
#
#   scripts/chroma.sh start [--port N] [--dir D]   install (if needed), start; print the URL
#   scripts/chroma.sh url   [--port N] [--dir D]   print the URL of the running server
#   scripts/chroma.sh stop  [--port N] [--dir D]   stop it (the data is kept)
#
# The server is the Rust Chroma server shipped in the npm package `chromadb`
# (`chroma run`), whose native addon needs glibc >= 2.39. On an older system
# (Debian 12 has 2.36) node runs through Debian 13's dynamic loader and libc,
# downloaded with apt-get from a private trixie source list (the system's
# apt configuration and state are left untouched) and unpacked beside it.
#
# FLAVORMONK_CHROMA_HOME (default /tmp/flavormonk-chroma) holds the npm
# install, the trixie libraries and the default instance; FLAVORMONK_CHROMA_PORT
# (default 38000) is the default port. --dir D puts an instance's data,
# pidfile and log in D instead (disposable instances for outage tests);
# the installation stays shared in the home.
#
# Idempotent; meant to run as root (CI does) on Debian 12. stdout carries
# only the URL; everything else goes to stderr.
set -euo pipefail

CHROMADB_VERSION=3.5.0  # npm package chromadb (server 1.x, HTTP API v2)
BINDINGS_VERSION=1.3.4  # its native addon, chromadb-js-bindings-<platform>
MIN_GLIBC=2.39

HOME_DIR="${FLAVORMONK_CHROMA_HOME:-/tmp/flavormonk-chroma}"
PORT="${FLAVORMONK_CHROMA_PORT:-38000}"
DIR=""

log() { echo "chroma.sh: $*" >&2; }
die() { log "$*"; exit 1; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
while [[ $# -gt 0 ]]; do
	case "$1" in
	--port) PORT="${2:?--port needs a value}"; shift 2 ;;
	--port=*) PORT="${1#*=}"; shift ;;
	--dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
	--dir=*) DIR="${1#*=}"; shift ;;
	*) die "unknown argument $1" ;;
	esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number, got $PORT"
DIR="${DIR:-$HOME_DIR}"
NPM_DIR="$HOME_DIR/npm"
GLIBC_DIR="$HOME_DIR/glibc"
DATA="$DIR/data"
PIDFILE="$DIR/chroma-$PORT.pid"
LOG="$DIR/chroma-$PORT.log"
URL="http://127.0.0.1:$PORT"

case "$(uname -m)" in
x86_64) ARCH=amd64 TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 BINDINGS=chromadb-js-bindings-linux-x64-gnu ;;
aarch64) ARCH=arm64 TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 BINDINGS=chromadb-js-bindings-linux-arm64-gnu ;;
*) die "unsupported architecture $(uname -m)" ;;
esac

ensure_node() {
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
	[[ $(id -u) -eq 0 ]] || die "node/npm are not installed and installing them needs root"
	log "installing nodejs and npm"
	export DEBIAN_FRONTEND=noninteractive
	apt-cache show nodejs >/dev/null 2>&1 && apt-cache show npm >/dev/null 2>&1 || apt-get update >&2
	apt-get install -y --no-install-recommends nodejs npm >&2
}

installed_version() { # package dir → version or nothing
	sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$1/package.json" 2>/dev/null | head -n 1
}

ensure_npm_package() {
	local m="$NPM_DIR/node_modules"
	if [[ "$(installed_version "$m/chromadb")" == "$CHROMADB_VERSION" &&
		"$(installed_version "$m/$BINDINGS")" == "$BINDINGS_VERSION" ]] &&
		ls "$m/$BINDINGS"/*.node >/dev/null 2>&1; then
		return 0
	fi
	log "installing npm chromadb@$CHROMADB_VERSION ($BINDINGS@$BINDINGS_VERSION) into $NPM_DIR"
	mkdir -p "$NPM_DIR"
	# The native addon is an optional dependency: name it so that it is
	# installed even where npm is told to omit optional packages.
	npm install --prefix "$NPM_DIR" --no-audit --no-fund --no-update-notifier --save-exact \
		"chromadb@$CHROMADB_VERSION" "$BINDINGS@$BINDINGS_VERSION" >&2
	ls "$m/$BINDINGS"/*.node >/dev/null 2>&1 || die "npm did not install $BINDINGS"
}

glibc_version() { ldd --version 2>/dev/null | head -n 1 | grep -oE '[0-9]+\.[0-9]+$' || echo 0; }

needs_new_glibc() {
	local have
	have=$(glibc_version)
	[[ "$(printf '%s\n%s\n' "$MIN_GLIBC" "$have" | sort -V | head -n 1)" != "$MIN_GLIBC" ]]
}

# ensure_glibc unpacks Debian 13's libc6, libgcc-s1 and libstdc++6 into
# $GLIBC_DIR, using apt with a private source list, lists and cache.
ensure_glibc() {
	[[ -f "$GLIBC_DIR/.complete" && -x "$GLIBC_DIR/usr/lib/$TRIPLET/$LOADER" ]] && return 0
	command -v apt-get >/dev/null 2>&1 || die "glibc $(glibc_version) < $MIN_GLIBC and no apt-get to fetch a newer one"
	log "glibc $(glibc_version) < $MIN_GLIBC: fetching Debian 13 (trixie) libc6, libgcc-s1, libstdc++6"
	local apt="$HOME_DIR/apt"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[[ -r "$keyring" ]] || die "$keyring is missing (apt-get install debian-archive-keyring)"
	echo "deb [arch=$ARCH signed-by=$keyring] http://deb.debian.org/debian trixie main" >"$apt/sources.list"
	local opts=(
		-o "Dir::Etc::SourceList=$apt/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$apt/lists"
		-o "Dir::Cache=$apt/cache"
		-o "Dir::Cache::pkgcache=$apt/cache/pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=$apt/cache/srcpkgcache.bin"
		-o "APT::Sandbox::User=root"
		-o "Acquire::Languages=none"
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
		-o "Debug::NoLocking=1"
	)
	apt-get "${opts[@]}" -q update >&2
	rm -f "$apt/debs"/*.deb
	(cd "$apt/debs" && apt-get "${opts[@]}" -q download "libc6:$ARCH" "libgcc-s1:$ARCH" "libstdc++6:$ARCH" >&2)
	rm -rf "$GLIBC_DIR.tmp"
	mkdir -p "$GLIBC_DIR.tmp"
	local deb
	for deb in "$apt/debs"/*.deb; do
		dpkg -x "$deb" "$GLIBC_DIR.tmp"
	done
	[[ -x "$GLIBC_DIR.tmp/usr/lib/$TRIPLET/$LOADER" ]] || die "no $LOADER in the unpacked trixie libc6"
	touch "$GLIBC_DIR.tmp/.complete"
	rm -rf "$GLIBC_DIR"
	mv "$GLIBC_DIR.tmp" "$GLIBC_DIR"
}

# server_cmd prints the command line that runs the server, NUL-separated.
server_cmd() {
	local node
	node=$(command -v node)
	local args=("$node" "$NPM_DIR/node_modules/chromadb/dist/cli.mjs" run --path "$DATA" --host 127.0.0.1 --port "$PORT")
	if needs_new_glibc; then
		local lib="$GLIBC_DIR/usr/lib/$TRIPLET"
		args=("$lib/$LOADER" --library-path "$lib" "${args[@]}")
	fi
	printf '%s\0' "${args[@]}"
}

heartbeat() {
	curl -fsS --max-time 2 "$URL/api/v2/heartbeat" 2>/dev/null | grep -q heartbeat
}

# running reports whether this instance's server process is alive; a pidfile
# left by a killed server is removed.
running() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "cli.mjs run --path $DATA " &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
		return 0
	fi
	log "removing a stale pidfile $PIDFILE (pid $pid is gone)"
	rm -f "$PIDFILE"
	return 1
}

start() {
	command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
	mkdir -p "$DIR" "$DATA"
	if running; then
		local i
		for i in $(seq 1 120); do
			heartbeat && { echo "$URL"; return 0; }
			running || break
			sleep 0.5
		done
		running && die "the server (pid $(cat "$PIDFILE")) does not answer on $URL; see $LOG"
	fi
	heartbeat && die "port $PORT already answers as a Chroma server not started from $DIR; stop it or pick another port"
	ensure_node
	ensure_npm_package
	if needs_new_glibc; then ensure_glibc; fi

	local args=()
	while IFS= read -r -d '' a; do args+=("$a"); done < <(server_cmd)
	log "starting Chroma on $URL (data in $DATA, log $LOG)"
	ANONYMIZED_TELEMETRY=False CHROMADB_VERSION="$CHROMADB_VERSION" \
		setsid nohup "${args[@]}" </dev/null >>"$LOG" 2>&1 &
	echo $! >"$PIDFILE"
	local i
	for i in $(seq 1 240); do
		if heartbeat; then
			echo "$URL"
			return 0
		fi
		if ! running; then
			tail -n 30 "$LOG" >&2 || true
			die "the Chroma server exited; see $LOG"
		fi
		sleep 0.25
	done
	tail -n 30 "$LOG" >&2 || true
	die "Chroma did not answer $URL/api/v2/heartbeat within 60s"
}

stop() {
	if ! running; then
		log "not running ($DIR, port $PORT)"
		return 0
	fi
	local pid i
	pid=$(cat "$PIDFILE")
	# SIGINT: the server shuts down and node exits (on SIGTERM the Rust
	# server stops serving but the node process stays).
	kill -INT "$pid" 2>/dev/null || true
	for i in $(seq 1 60); do
		[[ -d "/proc/$pid" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null || break
		sleep 0.25
	done
	if [[ -d "/proc/$pid" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
		log "pid $pid ignored SIGINT; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$PIDFILE"
	log "stopped ($URL)"
}

case "$cmd" in
start) start ;;
url)
	running && heartbeat || die "Chroma is not running on $URL (run: $0 start)"
	echo "$URL"
	;;
stop) stop ;;
*)
	echo "usage: $0 start|url|stop [--port N] [--dir D]" >&2
	exit 2
	;;
esac
