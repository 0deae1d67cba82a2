#!/usr/bin/env bash
# fuzz.sh — run every fuzz target of the app for a while each.
#
#   scripts/fuzz.sh [FUZZTIME] [MODULE...]     e.g. scripts/fuzz.sh 3s, scripts/fuzz.sh 30s app infra
#
# `make test` runs it with a short FUZZTIME (fuzz-short) so that a target
# whose property is wrong, or a seed that fails, is red in the ordinary run
# and not only when someone runs `make fuzz`. Modules default to app: the
# infra module's target (kube FuzzParseEnv) would rebuild the Pulumi
# Kubernetes SDK with fuzzing instrumentation (minutes, GBs); its seeds
# still run in `go test`, and `make fuzz MODULES="app infra"` fuzzes it.
#
# A failing input is written by Go to <package>/testdata/fuzz/<Target>/; keep
# it there, as a seed, with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

fuzztime=${1:-30s}
shift || true
modules=("${@:-app}")
[[ ${#modules[@]} -gt 0 ]] || modules=(app)

failed=()
# deadline_flake: the run failed with only the coordinator's own deadline,
# no failing input (a real finding prints "Failing input written to").
deadline_flake() {
	local msgs
	msgs=$(grep '^    ' <<<"$1" | sed 's/^ *//' | sort -u)
	[[ $msgs == "context deadline exceeded" ]] &&
		! grep -qE 'Failing input written to|panic:' <<<"$1"
}

n=0
start=$SECONDS
for mod in "${modules[@]}"; do
	# Each package with fuzz targets, and the targets in it.
	while IFS= read -r dir; do
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$mod/$dir"/*_test.go | cut -d' ' -f2 | sort -u); do
			n=$((n + 1))
			t0=$SECONDS
			run() { (cd "$mod" && go test -vet=off -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$dir" 2>&1); }
			if out=$(run); then
				echo "ok   $mod/$dir $target ($((SECONDS - t0)) s)"
			elif deadline_flake "$out" && { out=$(run) || { deadline_flake "$out" && out=$(run); }; }; then
				# Go 1.26's fuzz coordinator can report its own -fuzztime
				# deadline as a failure of the target (golang/go#75804,
				# fixed in 1.27) when a loaded machine holds a worker past
				# it: no input failed and nothing was written. Seen here in
				# about one run of make test in three, so up to two retries;
				# a third time, or any real failure, is red.
				echo "ok   $mod/$dir $target ($((SECONDS - t0)) s, after a retry: Go's fuzztime deadline race)"
			else
				echo "FAIL $mod/$dir $target"
				echo "$out" | tail -30
				failed+=("$mod/$dir $target")
			fi
		done
	done < <(cd "$mod" && grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | sed 's|^\./||')
done
echo "fuzz.sh: $n targets, $fuzztime each, $((SECONDS - start)) s"
if [[ ${#failed[@]} -gt 0 ]]; then
	printf 'fuzz.sh: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
