#!/usr/bin/env bash
# bench.sh — `make bench`: Go benchmarks of the search index, then the HTTP
# load test (cmd/fmbench) on SQLite and Postgres, each next to a trivial
# Echo handler measured in the same run. Results: bench-results/latest.json.
#
#   scripts/bench.sh [fmbench flags...]     e.g. -duration 30s, -strict, -no-postgres
#
# Environment: BENCH_GO=0 skips the Go benchmarks; BENCHTIME (default 1s)
# is their -benchtime. Installs wrk with apt-get when it is missing
# (idempotent); without it fmbench falls back to its own Go load generator
# and says so. Starts the throwaway Postgres of scripts/postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

log() { echo "bench.sh: $*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
	SUDO=""
	[[ $(id -u) -eq 0 ]] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	log "installing wrk"
	# Only refresh the package lists when they do not know the package.
	if ! apt-cache show wrk >/dev/null 2>&1; then
		$SUDO apt-get update -qq >&2 || true
	fi
	$SUDO apt-get install -y -qq --no-install-recommends wrk >&2 ||
		log "could not install wrk: fmbench will use its built-in Go load generator"
fi

PGURL=""
if PGURL=$(scripts/postgres.sh start); then
	:
else
	log "Postgres did not start: benchmarking SQLite only"
	PGURL=""
fi

mkdir -p bench-results
if [[ "${BENCH_GO:-1}" != 0 ]]; then
	log "Go benchmarks of the search index (10,000 synthetic recipes)"
	(cd app && go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ./search/ ./cache/ ./embed/ ./chromem/ ./tokens/ ./inference/openai/ ./inference/replicate/) |
		tee bench-results/go-bench.txt
	log "cached vs uncached search (in-process handler, same run; target speedup >= 3)"
	(cd app && go test -run '^$' -bench SearchCache -benchtime 5x ./web/) | tee -a bench-results/go-bench.txt
	log "Redis and ChromaDB backends (real local servers)"
	(cd app && FLAVORMONK_TEST_REDIS_URL=$(../scripts/redis.sh start) FLAVORMONK_TEST_CHROMA_URL=$(../scripts/chroma.sh start) \
		sh -c "go test -run '^\$' -bench . ./redis/ && go test -run '^\$' -bench . -benchtime 2000x ./chroma/") | tee -a bench-results/go-bench.txt
fi

if [[ "${BENCH_GO:-1}" != 0 ]]; then
	log "usage metering: reserve + settle on SQLite and Postgres"
	(cd app && FLAVORMONK_TEST_POSTGRES_URL="$PGURL" go test -run '^$' -bench . ./usage/) | tee -a bench-results/go-bench.txt
fi

log "HTTP load test"
cd app
FLAVORMONK_BENCH_POSTGRES_URL="$PGURL" go run ./cmd/fmbench "$@"

log "assistant: time to first token over the provider's, 200 concurrent streams, answer cache"
go run ./cmd/fmbench ask
