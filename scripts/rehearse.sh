#!/usr/bin/env bash
# rehearse.sh — rehearse a deployment phase locally on real services.
#
#   scripts/rehearse.sh mvp|upgrade|scale|rollout [fmrehearse flags...]
#
# Starts the shared throwaway Postgres (scripts/postgres.sh), then runs
# app/cmd/fmrehearse, which creates a fresh database on it, starts a
# disposable Redis and ChromaDB for upgrade and scale (scripts/redis.sh,
# scripts/chroma.sh with their own port and folder), builds and runs the
# real flavormonk binary (two replicas behind a local proxy for scale),
# indexes, smoke-tests, loads it while stopping Redis and then ChromaDB,
# and prints a report. Exits non-zero on any 5xx or a failed smoke test.
# rollout instead rolls a new build out with the production deploy script
# (infra/cloudinit/files/deploy.sh) under a steady load: two instances
# behind a real HAProxy, one host's blue/green behind a real Caddy, and the
# mvp → upgrade hand-over (app-1 behind Caddy and HAProxy at once; scripts/
# deps.sh installs both); it exits non-zero on any failed request.
# Meant to run as root (CI does) on Debian 12, like the service scripts.
set -euo pipefail

PHASE="${1:-${PHASE:-}}"
case "$PHASE" in
mvp | upgrade | scale) ;;
rollout) "$(dirname "${BASH_SOURCE[0]}")/deps.sh" ;;
*)
	echo "usage: $0 mvp|upgrade|scale|rollout [fmrehearse flags...]" >&2
	exit 2
	;;
esac
[[ $# -gt 0 ]] && shift

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_URL="$("$ROOT/scripts/postgres.sh" start)"

# Built, then exec'd (not `go run`), so Ctrl-C and SIGTERM reach
# fmrehearse itself and it can stop everything it started.
BIN_DIR="${TMPDIR:-/tmp}/fmrehearse-bin"
mkdir -p "$BIN_DIR"
(cd "$ROOT/app" && go build -o "$BIN_DIR/fmrehearse" ./cmd/fmrehearse)

cd "$ROOT/app"
FLAVORMONK_REHEARSE_POSTGRES_URL="$PG_URL" exec "$BIN_DIR/fmrehearse" -phase "$PHASE" "$@"
