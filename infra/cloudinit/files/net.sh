# /usr/local/lib/flavormonk/net.sh — IPv4 helpers shared by the flavormonk-*
# scripts (sourced, bash).

# fm_ip4 ADDR prints ADDR as an integer; fails on anything but a dotted quad.
fm_ip4() {
	local a=$1
	[[ $a =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
	local o
	for o in "${BASH_REMATCH[@]:1}"; do
		((10#$o <= 255)) || return 1
	done
	echo $(((10#${BASH_REMATCH[1]} << 24) + (10#${BASH_REMATCH[2]} << 16) + (10#${BASH_REMATCH[3]} << 8) + 10#${BASH_REMATCH[4]}))
}

# fm_in_cidr ADDR[/BITS] CIDR succeeds when ADDR (or the whole of ADDR/BITS)
# lies inside CIDR.
fm_in_cidr() {
	local a=${1%/*} abits=32 net=${2%/*} bits=${2#*/}
	[[ $1 == */* ]] && abits=${1#*/}
	[[ $abits =~ ^[0-9]{1,2}$ && $bits =~ ^[0-9]{1,2}$ ]] || return 1
	((abits <= 32 && bits <= 32 && abits >= bits)) || return 1
	local ai ni mask
	ai=$(fm_ip4 "$a") || return 1
	ni=$(fm_ip4 "$net") || return 1
	mask=$(((0xffffffff << (32 - bits)) & 0xffffffff))
	if ((bits == 0)); then mask=0; fi
	(((ai & mask) == (ni & mask)))
}

# fm_private_ip CIDR [WAIT] prints this host's first IPv4 address inside
# CIDR, waiting up to WAIT seconds (default 120) for the interface to come up.
fm_private_ip() {
	local cidr=$1 wait=${2:-120} i addr
	for ((i = 0; i <= wait; i++)); do
		while read -r addr; do
			if fm_in_cidr "${addr%/*}" "$cidr"; then
				echo "${addr%/*}"
				return 0
			fi
		done < <(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}')
		if ((i < wait)); then sleep 1; fi
	done
	echo "flavormonk: no IPv4 address inside $cidr on any interface after ${wait}s" >&2
	return 1
}
