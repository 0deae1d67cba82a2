#!/usr/bin/env bash
# Installs what `make test` needs on a Debian machine, idempotently:
# PostgreSQL server binaries, Chromium (for the browser test), and HAProxy
# and Caddy (for `make rehearse PHASE=rollout`, which runs them itself on
# free local ports: their packaged services are kept from starting, and
# disabled, so nothing takes :80).
# Run as root (CI is root) or with sudo available.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then need+=(chromium); fi
if ! command -v runuser >/dev/null 2>&1; then need+=(util-linux); fi
if ! [ -f /etc/ssl/certs/ca-certificates.crt ]; then need+=(ca-certificates); fi
if ! command -v cloud-init >/dev/null 2>&1 || ! { command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ]; }; then need+=(cloud-init nftables); fi

daemons=()
if ! command -v haproxy >/dev/null 2>&1 && ! [ -x /usr/sbin/haproxy ]; then daemons+=(haproxy); fi
if ! command -v caddy >/dev/null 2>&1; then daemons+=(caddy); fi
need+=("${daemons[@]}")

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A policy-rc.d that denies the packaged haproxy and caddy services' start
# keeps them off :80 during the install (one already there is left alone).
# It denies those two only: should this script be killed before its trap
# runs, no other service's start is blocked.
policy=""
if [ ${#daemons[@]} -gt 0 ] && ! [ -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\ncase "$1" in haproxy | caddy) exit 101 ;; esac\nexit 0\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
for d in "${daemons[@]}"; do
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$d" >/dev/null 2>&1 || true
  fi
done
