#!/bin/bash
# flavormonk-deploy — roll this app server onto IMAGE without failing a request.
#
#   flavormonk-deploy --mode bluegreen|inplace [--lb-probes N] [--timeout S] IMAGE
#
# The app runs as flavormonk@blue (FLAVORMONK_APP_PORT, 8080) or
# flavormonk@green (FLAVORMONK_GREEN_PORT, 8081); /etc/flavormonk/active names
# the one that serves and /etc/flavormonk/image its image.
#
# bluegreen (mvp: Caddy in front, no load balancer): start the idle colour on
#   IMAGE beside the active one, wait for its /readyz, point Caddy's upstream
#   snippet at it and reload Caddy, then stop the old colour (its drain
#   finishes what it has in flight). When the new colour does not get ready,
#   it is stopped and the old one and Caddy are left as they were (exit 1).
# inplace (a load balancer in front, which targets the blue port): restart
#   flavormonk@blue on IMAGE (its stop drains), wait for its /readyz and, with
#   --lb-probes N, until the app has answered every load balancer source that
#   probes it N times in a row (flavormonk_lb_probe_consecutive_ok on its
#   metrics listener; at least one source). On timeout, back to the previous
#   image the same way (exit 1). Coming from green (the host was in mvp),
#   blue starts beside it and green stops once blue is seen by the balancer.
#   With Caddy still in front (FLAVORMONK_CADDY=yes: the hand-over from
#   mvp), its upstream follows blue; and as Caddy must never point at a
#   unit that stops, a host where blue (or the legacy unit) serves first
#   hops Caddy to green on IMAGE, bluegreen-style, then goes on from green.
#
# A host made before the colours runs flavormonk.service on 8080: it counts as
# the active unit (bluegreen starts green beside it; inplace stops it, then
# starts blue) and is stopped and disabled once the new unit serves.
#
# --timeout S (default 180) bounds the wait for the new unit, from its start,
# and the wait for another run's lock ($FM_ROOT/run/flavormonk/deploy.lock:
# a manual run and Pulumi's must not interleave).
# Exit status: 0 deployed, 1 failed (the old version serves; after the hop to
# green, green serves IMAGE behind Caddy), 2 bad usage.
#
# Every command that touches the host goes through FM_DOCKER, FM_SYSTEMCTL and
# FM_JOURNALCTL, every path lies under FM_ROOT and FM_POLL is the poll
# interval in seconds, so rehearsals and tests drive local processes instead.
# FM_SYSTEMCTL gets: restart|stop|enable|disable flavormonk@COLOUR.service,
# is-active --quiet / start / stop / disable flavormonk.service, reload caddy;
# FM_DOCKER: pull --quiet IMAGE. A colour's image is in
# $FM_ROOT/etc/flavormonk/image-COLOUR when its unit is (re)started.
set -euo pipefail

usage() {
	echo "usage: flavormonk-deploy --mode bluegreen|inplace [--lb-probes N] [--timeout S] IMAGE" >&2
	exit 2
}
log() { echo "flavormonk-deploy: $*" >&2; }
bad() {
	log "$*"
	usage
}

mode='' probes=0 timeout=180 image=''
while (($#)); do
	case $1 in
	--mode | --lb-probes | --timeout)
		(($# >= 2)) || bad "$1 needs a value"
		case $1 in
		--mode) mode=$2 ;;
		--lb-probes) probes=$2 ;;
		--timeout) timeout=$2 ;;
		esac
		shift 2
		;;
	-h | --help) usage ;;
	-*) bad "unknown option $1" ;;
	*)
		[[ -z $image ]] || bad "one IMAGE only"
		image=$1
		shift
		;;
	esac
done
case $mode in
bluegreen | inplace) ;;
"") bad "--mode is required" ;;
*) bad "--mode $mode: want bluegreen or inplace" ;;
esac
[[ $probes =~ ^[0-9]{1,3}$ ]] || bad "--lb-probes $probes: want a number of probes"
[[ $mode == inplace || $probes == 0 ]] || bad "--lb-probes needs --mode inplace (a load balancer in front)"
[[ $timeout =~ ^[1-9][0-9]{0,4}$ ]] || bad "--timeout $timeout: want seconds"
[[ -n $image ]] || bad "IMAGE is required"
[[ $image =~ ^[A-Za-z0-9/][A-Za-z0-9._/:@+-]*$ ]] || bad "'$image' is not an image reference"

root=${FM_ROOT:-}
docker=${FM_DOCKER:-docker}
systemctl=${FM_SYSTEMCTL:-systemctl}
journalctl=${FM_JOURNALCTL:-journalctl}
poll=${FM_POLL:-2}
etc=$root/etc/flavormonk
run=$root/run/flavormonk
upstream=$root/etc/caddy/flavormonk-upstream
legacy_unit=$root/etc/systemd/system/flavormonk.service
lock=$run/deploy.lock

# One run at a time. Fd 9 holds the lock; the commands below get it closed
# (ctl), so a unit a shim starts in the background does not keep it.
mkdir -p "$run"
exec 9>>"$lock"
if ! flock -w "$timeout" 9; then
	log "FAILED: another flavormonk-deploy still holds $lock after ${timeout}s; nothing changed"
	exit 1
fi
ctl() { "$systemctl" "$@" 9>&-; }

if [[ ! -f $etc/env ]]; then
	log "FAILED: $etc/env is missing (write it before deploying)"
	exit 1
fi
FLAVORMONK_CADDY=no
if [[ -f $etc/host.env ]]; then
	# shellcheck source=/dev/null
	. "$etc/host.env"
fi
blue_port=${FLAVORMONK_APP_PORT:-8080}
green_port=${FLAVORMONK_GREEN_PORT:-8081}

unit() { if [[ $1 == legacy ]]; then echo flavormonk.service; else echo "flavormonk@$1.service"; fi; }
port() { if [[ $1 == green ]]; then echo "$green_port"; else echo "$blue_port"; fi; }
sfx() { if [[ $1 == legacy ]]; then echo ""; else echo "-$1"; fi; }

# put FILE CONTENT writes a file whole (readers never see half of it).
put() {
	printf '%s\n' "$2" >"$1.tmp"
	chmod 0644 "$1.tmp"
	mv -f "$1.tmp" "$1"
}

# addr COLOUR is where this host checks the unit's /readyz: what
# flavormonk-app-env chose when it started, else loopback on its port.
addr() {
	local a
	a=$(head -n 1 "$run/addr$(sfx "$1")" 2>/dev/null || true)
	echo "${a:-127.0.0.1:$(port "$1")}"
}

# ready COLOUR DEADLINE waits for the unit's /readyz to answer 200.
ready() {
	while :; do
		if curl -fsS -o /dev/null --max-time 3 "http://$(addr "$1")/readyz" 2>/dev/null; then
			return 0
		fi
		((SECONDS < $2)) || return 1
		sleep "$poll"
	done
}

# lb_seen: every load balancer source probing blue has had --lb-probes
# answers in a row, and there is one at least. The metrics listener is
# private (127.0.0.1); the load balancer never reaches it.
metrics_addr() {
	local a
	a=$(head -n 1 "$run/metrics-addr-blue" 2>/dev/null || head -n 1 "$run/metrics-addr" 2>/dev/null || true)
	echo "${a:-127.0.0.1:9090}"
}
probe_counts() {
	curl -fsS --max-time 3 "http://$(metrics_addr)/metrics" 2>/dev/null |
		awk '$1 ~ /^flavormonk_lb_probe_consecutive_ok([{]|$)/ { print $1, $2 }'
}
lb_seen() {
	probe_counts | awk -v n="$probes" '{ seen++; if ($2 + 0 < n) low++ } END { exit !(seen > 0 && low == 0) }'
}

# healthy COLOUR DEADLINE: ready, then (inplace with --lb-probes) seen by
# the load balancer, within DEADLINE.
healthy() {
	ready "$1" "$2" || {
		log "$(unit "$1") did not answer /readyz in time"
		return 1
	}
	((probes > 0)) || return 0
	log "$(unit "$1") is ready; waiting for the load balancer's probes (${probes} in a row from every source)"
	while ! lb_seen; do
		if ((SECONDS >= $2)); then
			log "the load balancer's probes, last seen: $(probe_counts | tr '\n' ' ')"
			return 1
		fi
		sleep "$poll"
	done
}

# start COLOUR IMAGE (re)starts the colour's unit on IMAGE.
start() {
	put "$etc/image-$1" "$2"
	ctl restart "$(unit "$1")"
}

# try COLOUR IMAGE starts the colour on IMAGE and waits until it is healthy,
# for --timeout seconds.
try() {
	if ! start "$1" "$2"; then
		log "$(unit "$1") did not start"
		return 1
	fi
	healthy "$1" $((SECONDS + timeout))
}

stop() { ctl stop "$(unit "$1")"; }

journal() { "$journalctl" -u "$(unit "$1")" -n 40 --no-pager >&2 || true; }

# caddy_to PORT points Caddy's upstream at PORT and reloads it; on a failed
# reload the snippet is put back.
caddy_to() {
	local want="reverse_proxy 127.0.0.1:$1" was=
	was=$(cat "$upstream" 2>/dev/null || true)
	[[ $was != "$want" ]] || return 0
	mkdir -p "${upstream%/*}"
	put "$upstream" "$want"
	if ctl reload caddy; then
		log "Caddy now proxies to 127.0.0.1:$1"
		return 0
	fi
	log "FAILED: Caddy did not reload with its upstream on $1; putting it back"
	if [[ -n $was ]]; then put "$upstream" "$was"; else rm -f "$upstream"; fi
	ctl reload caddy || true
	return 1
}

# done_with NEW IMAGE OLD: NEW serves; record it, enable it for boot, stop
# and disable OLD and a left-over unit of the hosts made before the colours.
done_with() {
	put "$etc/active" "$1"
	put "$etc/image" "$2"
	ctl enable "$(unit "$1")"
	if [[ -n $3 && $3 != "$1" ]]; then
		log "stopping $(unit "$3")"
		stop "$3" || log "warning: $(unit "$3") did not stop cleanly"
		ctl disable "$(unit "$3")" || true
	fi
	if [[ $3 != legacy && -e $legacy_unit ]]; then
		ctl stop flavormonk.service || true
		ctl disable flavormonk.service || true
	fi
	log "ok: $2 serves from $(unit "$1")"
}

active=$(head -n 1 "$etc/active" 2>/dev/null || true)
case $active in
blue | green) ;;
*)
	active=
	if [[ -e $legacy_unit ]] && ctl is-active --quiet flavormonk.service; then active=legacy; fi
	;;
esac
prev=$(head -n 1 "$etc/image" 2>/dev/null || true)

log "pulling $image"
if ! "$docker" pull --quiet "$image" >/dev/null; then
	log "FAILED: cannot pull $image"
	exit 1
fi

if [[ $mode == bluegreen ]]; then
	case $active in blue | legacy) new=green ;; *) new=blue ;; esac
	log "starting $image as $(unit "$new") beside ${active:-nothing}"
	if ! try "$new" "$image"; then
		log "FAILED: $image did not become ready within ${timeout}s; ${active:+$(unit "$active") and }Caddy are left as they were"
		journal "$new"
		stop "$new" || true
		exit 1
	fi
	if ! caddy_to "$(port "$new")"; then
		stop "$new" || true
		exit 1
	fi
	done_with "$new" "$image" "$active"
	exit 0
fi

# inplace
# With Caddy in front (the hand-over from mvp), its upstream is the blue
# port while blue or the legacy unit serves, so restarting either there
# would leave Caddy nothing to proxy to. Hop to green first, the bluegreen
# way; from green, blue starts beside it as below.
if [[ $FLAVORMONK_CADDY == yes && ($active == blue || $active == legacy) ]]; then
	log "Caddy proxies to $(unit "$active"): first starting $image as $(unit green) beside it"
	if ! start green "$image" || ! ready green $((SECONDS + timeout)); then
		log "FAILED: $image did not become ready as $(unit green) within ${timeout}s; $(unit "$active") and Caddy are left as they were"
		journal green
		stop green || true
		exit 1
	fi
	if ! caddy_to "$green_port"; then
		stop green || true
		exit 1
	fi
	done_with green "$image" "$active"
	active=green
fi
case $active in
green)
	log "starting $image as $(unit blue) beside $(unit green)"
	if ! try blue "$image"; then
		log "FAILED: $image not healthy within ${timeout}s; $(unit green) serves on"
		journal blue
		stop blue || true
		exit 1
	fi
	if [[ $FLAVORMONK_CADDY == yes ]] && ! caddy_to "$blue_port"; then
		stop blue || true
		exit 1
	fi
	;;
legacy)
	# It holds the blue port: stop it first (it drains), then start blue.
	# No Caddy here (see above): the load balancer has the other servers.
	log "stopping flavormonk.service, then starting $image as $(unit blue)"
	if ! stop legacy; then
		log "FAILED: flavormonk.service did not stop; $image is not deployed (see journalctl -u flavormonk.service)"
		exit 1
	fi
	if ! try blue "$image"; then
		log "FAILED: $image not healthy within ${timeout}s; back to flavormonk.service on $prev"
		journal blue
		stop blue || true
		if ! ctl start flavormonk.service; then
			log "FAILED: flavormonk.service did not start again either: nothing serves on this host (see journalctl -u flavormonk.service)"
			exit 1
		fi
		ready legacy $((SECONDS + timeout)) || log "flavormonk.service is not ready either"
		exit 1
	fi
	;;
*)
	log "restarting $(unit blue) on $image"
	if ! try blue "$image"; then
		log "FAILED: $image not healthy within ${timeout}s"
		journal blue
		if [[ -n $prev && $prev != "$image" ]]; then
			log "rolling back to $prev"
			if try blue "$prev"; then log "rolled back to $prev"; else log "the previous image $prev is not healthy either"; fi
		fi
		exit 1
	fi
	;;
esac
# Caddy in front, and nothing served before (a first deploy): it follows
# blue now that blue serves.
if [[ $FLAVORMONK_CADDY == yes && $active != green ]] && ! caddy_to "$blue_port"; then
	log "warning: Caddy's upstream is not on $blue_port"
fi
done_with blue "$image" "$active"
