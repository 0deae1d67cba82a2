#!/usr/bin/env bash
# Installs what `make test` needs on a Debian machine, idempotently:
# PostgreSQL server binaries and Chromium (for the browser test).
# Run as root (CI is root) or with sudo available.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then need+=(chromium); fi
if ! command -v runuser >/dev/null 2>&1; then need+=(util-linux); fi
if ! [ -f /etc/ssl/certs/ca-certificates.crt ]; then need+=(ca-certificates); fi
if ! command -v cloud-init >/dev/null 2>&1 || ! { command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ]; }; then need+=(cloud-init nftables); fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
