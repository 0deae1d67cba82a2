#!/usr/bin/env bash
# Builds the app's container image with ko and pushes it: `make image`.
# No Docker daemon is needed.
#
# Environment:
#   KO_DOCKER_REPO       required: the repository to push to, e.g. registry.example.com/flavormonk.
#                        The image is pushed as $KO_DOCKER_REPO:$VERSION and $KO_DOCKER_REPO:latest.
#   VERSION              the version baked into the binary and used as the tag
#                        (default: `git describe --tags --always --dirty`, else "dev").
#   PLATFORMS            comma-separated platforms (default linux/amd64; e.g. linux/amd64,linux/arm64,
#                        which needs a multi-platform base image).
#   KO_DEFAULTBASEIMAGE  base image (default ko's, cgr.dev/chainguard/static).
#   IMAGE_MAIN           main package to build, relative to app/ (default ./cmd/flavormonk).
#   SBOM                 ko's --sbom value (default spdx; "none" disables it).
#   KO                   ko binary to use (default .bin/ko, installed on demand at KO_VERSION).
#   KO_VERSION           ko version installed from the Go module proxy (default below).
#
# `scripts/image.sh --install-only` installs ko into .bin/ and exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KO_VERSION="${KO_VERSION:-v0.19.1}"
KO="${KO:-$ROOT/.bin/ko}"

die() {
	echo "image.sh: $*" >&2
	exit 1
}

install_ko() {
	if [[ "$KO" != "$ROOT/.bin/ko" ]]; then
		[[ -x "$KO" ]] || die "KO=$KO is not an executable"
		return 0
	fi
	local have
	have="$("$KO" version 2>/dev/null || true)"
	if [[ "v${have#v}" == "$KO_VERSION" ]]; then
		return 0
	fi
	echo "image.sh: installing ko $KO_VERSION into $ROOT/.bin" >&2
	mkdir -p "$ROOT/.bin"
	# `go install pkg@version` ignores go.work and the app's go.mod.
	(cd "$ROOT" && GOBIN="$ROOT/.bin" GOFLAGS=-buildvcs=false go install "github.com/google/ko@$KO_VERSION") ||
		die "could not install ko $KO_VERSION from the Go module proxy"
}

install_ko
if [[ "${1:-}" == "--install-only" ]]; then
	exit 0
fi
[[ $# -eq 0 ]] || die "unexpected arguments: $* (configure with environment variables; see the header of $0)"

if [[ -z "${KO_DOCKER_REPO:-}" ]]; then
	die "KO_DOCKER_REPO is not set: set it to the repository to push to, e.g. KO_DOCKER_REPO=registry.example.com/flavormonk make image"
fi
case "$KO_DOCKER_REPO" in
ko.local | ko.local/* | kind.local | kind.local/*)
	die "KO_DOCKER_REPO=$KO_DOCKER_REPO needs a Docker daemon or kind; use a registry repository" ;;
esac

if [[ -z "${VERSION:-}" ]]; then
	VERSION="$(cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null || true)"
	VERSION="${VERSION:-dev}"
fi
export VERSION
# A tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}: map anything else (e.g. semver's "+") to "-".
TAG="$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9_.-' '-')"
TAG="${TAG:0:128}"
[[ "$TAG" =~ ^[A-Za-z0-9_] ]] || TAG="v$TAG"
TAG="${TAG:0:128}"

PLATFORMS="${PLATFORMS:-linux/amd64}"
IMAGE_MAIN="${IMAGE_MAIN:-./cmd/flavormonk}"

refs="$(mktemp)"
trap 'rm -f "$refs"' EXIT

echo "image.sh: building $IMAGE_MAIN version $VERSION for $PLATFORMS -> $KO_DOCKER_REPO:$TAG" >&2
(
	cd "$ROOT/app"
	# .ko.yaml (in app/) sets CGO_ENABLED=0, -trimpath and the version ldflags.
	CGO_ENABLED=0 KO_DOCKER_REPO="$KO_DOCKER_REPO" "$KO" build "$IMAGE_MAIN" \
		--bare \
		--tags "$TAG,latest" \
		--platform "$PLATFORMS" \
		--image-user 65532 \
		--sbom "${SBOM:-spdx}" \
		--image-refs "$refs" \
		>/dev/null
)

ref="$(tail -n 1 "$refs")"
[[ -n "$ref" ]] || die "ko printed no image reference"
# ko prints repo@sha256:…; show it with the version tag too.
digest="${ref##*@}"
echo "$KO_DOCKER_REPO:$TAG@$digest"
