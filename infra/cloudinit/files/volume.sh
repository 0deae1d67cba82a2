#!/bin/bash
# flavormonk-volume DEVICE MOUNT LABEL [WAIT] — mount a data volume.
#
# Waits up to WAIT seconds (default 900) for DEVICE to appear (the cloud
# attaches volumes after the server boots), formats it as ext4 with LABEL
# ONLY when it carries no signature at all (a new volume), records it in
# /etc/fstab (nofail: a missing volume never blocks boot; the services that
# need it declare RequiresMountsFor) and mounts it. An existing filesystem is
# never touched: a replaced server finds its data where it was.
set -euo pipefail
dev=${1:?usage: flavormonk-volume DEVICE MOUNT LABEL [WAIT]}
mnt=${2:?usage: flavormonk-volume DEVICE MOUNT LABEL [WAIT]}
label=${3:?usage: flavormonk-volume DEVICE MOUNT LABEL [WAIT]}
wait=${4:-900}
log() { echo "flavormonk-volume: $*" >&2; }

for ((i = 0; i < wait; i += 5)); do
	[[ -b "$dev" ]] && break
	if ((i % 60 == 0)); then log "waiting for $dev (is the volume attached?)"; fi
	sleep 5
done
if [[ ! -b "$dev" ]]; then
	log "FAILED: $dev did not appear within ${wait}s"
	exit 1
fi
udevadm settle || true
real=$(readlink -f -- "$dev")

rc=0
fstype=$(blkid -p -o value -s TYPE -- "$real") || rc=$?
if [[ $rc -eq 2 ]]; then
	log "$dev ($real) is blank: creating an ext4 filesystem labelled $label"
	mkfs.ext4 -q -L "$label" -m 0 -- "$real"
	fstype=ext4
elif [[ $rc -ne 0 ]]; then
	log "FAILED: blkid could not probe $real (status $rc); not formatting it"
	exit 1
elif [[ -z "$fstype" ]]; then
	log "FAILED: $real carries a signature but no filesystem (a partition table?); not touching it"
	exit 1
fi

mkdir -p -- "$mnt"
if ! grep -qE "^[^#[:space:]]+[[:space:]]+$mnt[[:space:]]" /etc/fstab; then
	echo "$dev $mnt $fstype defaults,nofail,discard,x-systemd.device-timeout=5min 0 2" >>/etc/fstab
	systemctl daemon-reload
fi
if ! mountpoint -q -- "$mnt"; then
	# Nothing may write into the bare mount point on the root disk.
	chattr +i -- "$mnt" 2>/dev/null || true
	mount -- "$mnt"
fi
log "$dev mounted at $mnt ($fstype)"
