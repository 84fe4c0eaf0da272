# Helpers for the tests (and bench/slowlink) that run two mounted nodes
# on one shaped link.  Source it after lib.sh and call t_init first.
#
# sl_pair makes two namespaces, $SL_P-a and $SL_P-b, joined by one veth
# pair (eth0 in each, $SL_NET.1 and $SL_NET.2); a's end can be shaped
# with tbf, so that everything a sends to b goes at that rate (b's end is
# left alone: what b sends, requests and acknowledgements, is small).
# sl_nodes starts one node on each end and waits until they are linked.
# Names and subnets come from $$ and a counter, so several pairs (and
# other tests' namespaces) live side by side; every name starts with slt.

SL_N=0		# pairs made so far by this script
SL_P=		# namespace prefix of the last pair: $SL_P-a, $SL_P-b
SL_NET=		# its /24: a is $SL_NET.1, b $SL_NET.2
SL_RATE=	# a's rate as given to sl_pair ("" when unshaped)

for _t in jq nsenter tc python3; do command -v $_t >/dev/null || t_die "$_t is needed"; done
unset _t

# sl_bits RATE: 1mbit, 256kbit, 500000bit, 500000 -> bits per second.
sl_bits() {
	case "$1" in
	*mbit) echo $(( ${1%mbit} * 1000000 )) ;;
	*kbit) echo $(( ${1%kbit} * 1000 )) ;;
	*bit) echo "${1%bit}" ;;
	*) echo "$1" ;;
	esac
}

# sl_shape NS RATE: shape eth0 of NS at RATE (tbf, 32 kbit of burst,
# 400 ms of queue); RATE "" or "unlimited" removes the shaping.
sl_shape() {
	case "$2" in
	'' | unlimited) ip netns exec "$1" tc qdisc del dev eth0 root 2>/dev/null; return 0 ;;
	esac
	ip netns exec "$1" tc qdisc replace dev eth0 root tbf rate "$2" burst 32kbit latency 400ms
}

# sl_pair [RATE]: a fresh pair of namespaces joined by a veth pair, a's
# end shaped at RATE (none when RATE is empty or "unlimited").
sl_pair() {
	SL_N=$((SL_N + 1))
	SL_P=slt$$x$SL_N
	SL_NET=10.$(( ($$ / 250 + SL_N) % 200 + 20 )).$(( $$ % 250 + 1 ))
	SL_RATE=${1:-}
	[ "$SL_RATE" = unlimited ] && SL_RATE=
	t_netns "$SL_P-a"
	t_netns "$SL_P-b"
	ip link add "${SL_P}a" type veth peer name "${SL_P}b" || t_die "cannot create veth ${SL_P}a"
	ip link set "${SL_P}a" netns "$SL_P-a"
	ip link set "${SL_P}b" netns "$SL_P-b"
	local s i=0
	for s in a b; do
		i=$((i + 1))
		ip -n "$SL_P-$s" link set "$SL_P$s" name eth0
		ip -n "$SL_P-$s" addr add "$SL_NET.$i/24" dev eth0
		ip -n "$SL_P-$s" link set eth0 up
	done
	if [ -n "$SL_RATE" ]; then
		sl_shape "$SL_P-a" "$SL_RATE" || t_die "cannot shape a's end at $SL_RATE"
	fi
}

# sl_nodes A B [conf lines]: conf and start node A on a's end (the BFF)
# and B on b's end, both mounted here; wait until each lists both online
# and B holds as many entries as A.  replicas = 1, so that no copy of a
# file's content moves unless a test reads it.  T_DEBUG=1 logs at debug.
sl_nodes() {
	local A=$1 B=$2 key n i=0
	shift 2
	key=$("$OAND" genkey) || t_die "oand genkey failed"
	for n in "$A" "$B"; do
		i=$((i + 1))
		t_conf "$n" "tox-port = 33445; server-port = 8180; cluster-key = \"$key\";" \
			"heartbeat-interval = 2; ipv6 = false; replicas = 1;" \
			"server-domain-name = \"$SL_NET.$i\"; bff-domain-name = \"$SL_NET.1\"; bff-port = 8180;" \
			"$@" >/dev/null
		[ "${T_DEBUG:-0}" = 1 ] && sed -i 's/log-level = "info"/log-level = "debug"/' "$T_DIR/$n.conf"
	done
	t_start_mounted_ns "$SL_P-a" "$A" || t_die "node $A did not start"
	t_start_mounted_ns "$SL_P-b" "$B" || t_die "node $B did not start"
	t_wait 120 "$A and $B to list each other online" sl_linked "$A" "$B" ||
		t_die "$A and $B did not link"
	t_wait 30 "$B to hold what $A holds" sh -c \
		"[ \"\$('$OAND' -c '$T_DIR/$A.conf' status --json | jq .entries)\" = \"\$('$OAND' -c '$T_DIR/$B.conf' status --json | jq .entries)\" ]" ||
		t_die "$B does not hold what $A holds before the test"
}
sl_linked() { [ "$(sl_state "$1" "$2")" = online ] && [ "$(sl_state "$2" "$1")" = online ]; }

# sl_stop A B: stop both nodes of the pair and drop its namespaces now
# (lib.sh's cleanup would do it at the end; rounds free them as they go).
sl_stop() {
	t_stop "$1" || t_log "node $1 did not stop cleanly"
	t_stop "$2" || t_log "node $2 did not stop cleanly"
	local s
	for s in a b; do
		ip netns pids "$SL_P-$s" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$SL_P-$s" 2>/dev/null
	done
}

# sl_tx S / sl_rx S: bytes eth0 of $SL_P-S (a or b) sent / received so far.
sl_tx() { ip netns exec "$SL_P-$1" cat /sys/class/net/eth0/statistics/tx_bytes; }
sl_rx() { ip netns exec "$SL_P-$1" cat /sys/class/net/eth0/statistics/rx_bytes; }
# sl_status NAME: NAME's `oand status --json` (empty when it does not answer).
sl_status() { "$OAND" -c "$T_DIR/$1.conf" status --json 2>/dev/null; }
sl_entries() { sl_status "$1" | jq -r '.entries // empty'; }
# sl_answer_bytes NAME: bytes of sync answers NAME has received (.sync).
sl_answer_bytes() { sl_status "$1" | jq -r '.sync.answer_bytes // empty'; }
# sl_state NAME OF: the state NAME's node list gives OF ("" if none).
sl_state() { t_state "$1" "$2"; }
# sl_dump NAME...: one line of each node's counters to stderr (failures).
sl_dump() {
	local n
	for n in "$@"; do
		sl_status "$n" | jq -c '{entries, tox: (.tox | del(.id, .dht_key)), sync, transfers}' |
			sed "s/^/[$n] /" >&2
	done
}

# sl_burst DIR FOLDERS FILES: DIR with FOLDERS folders of FILES empty
# files each, from one process (1 + FOLDERS + FOLDERS x FILES entries).
sl_burst() {
	[ -f "$T_DIR/burst.py" ] || cat > "$T_DIR/burst.py" <<'EOF'
import os, sys
top, folders, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(top)
for d in range(folders):
    p = os.path.join(top, "d%03d" % d)
    os.mkdir(p)
    for f in range(files):
        open(os.path.join(p, "f%05d" % f), "w").close()
EOF
	python3 "$T_DIR/burst.py" "$1" "$2" "$3"
}

# sl_catchup B A WANT LIMIT_S [SAMPLES]: poll every SL_POLL s (0.5) until
# B holds WANT entries or LIMIT_S seconds have passed since SL_T0 (ns,
# set by the caller, as SL_TX0: a's tx bytes then).  Each poll counts
# the times B lists A offline and calls $SL_HOOK (if set) with the ms
# since SL_T0 and B's entries.  Sets SL_DONE_MS (empty when B never got
# there), SL_GOT (B's last entry count), SL_OFFLINE, SL_SENT (bytes a
# sent since SL_TX0).  SAMPLES gets "ms entries bytes-sent state" lines.
sl_catchup() {
	local B=$1 A=$2 want=$3 limit=$4 samples=${5:-/dev/null} now st js b
	local deadline=$(( SL_T0 + limit * 1000000000 ))
	SL_DONE_MS= SL_GOT=0 SL_OFFLINE=0 SL_BEHIND=0
	while :; do
		now=$(date +%s%N)
		js=$(sl_status "$B")
		SL_GOT=$(jq -r '.entries // empty' <<<"$js" 2>/dev/null)
		SL_GOT=${SL_GOT:-0}
		# The most b's status said it lacked of a's changes.
		b=$(jq -r --arg a "$A" '.sync.members[]? | select(.name == $a and .caught_up == false) | .behind' \
			<<<"$js" 2>/dev/null | head -1)
		[ "${b:-0}" -gt "$SL_BEHIND" ] && SL_BEHIND=$b
		st=$(sl_state "$B" "$A")
		[ "$st" = offline ] && SL_OFFLINE=$((SL_OFFLINE + 1))
		SL_SENT=$(( $(sl_tx a) - SL_TX0 ))
		echo "$(( (now - SL_T0) / 1000000 )) $SL_GOT $SL_SENT ${st:-none}" >> "$samples"
		[ -n "${SL_HOOK:-}" ] && "$SL_HOOK" $(( (now - SL_T0) / 1000000 )) "$SL_GOT"
		if [ "$SL_GOT" -ge "$want" ]; then
			SL_DONE_MS=$(( (now - SL_T0) / 1000000 ))
			break
		fi
		[ "$now" -ge "$deadline" ] && break
		sleep "${SL_POLL:-0.5}"
	done
	SL_SENT=$(( $(sl_tx a) - SL_TX0 ))
}

# sl_put_file NAME SIZE: SIZE random bytes written on a as NAME (through
# its mount), then listed by b at that size; SL_SUM is their SHA-256.
sl_put_file() {
	head -c "$2" /dev/urandom > "$T_DIR/src" || t_die "cannot make the source file"
	SL_SUM=$(sha256sum < "$T_DIR/src" | cut -d' ' -f1)
	cp "$T_DIR/src" "$T_DIR/a.mnt/$1" || t_die "cannot write $1 on a"
	t_wait 30 "b to list $1 at $2 bytes" sh -c "[ \"\$(stat -c %s '$T_DIR/b.mnt/$1')\" = $2 ]" ||
		t_die "b does not list $1"
}

# sl_caught_up B A: B's status says it has caught up with A.
sl_caught_up() {
	[ "$(sl_status "$1" | jq -r --arg a "$2" '.sync.members[]? | select(.name == $a) | .caught_up')" = true ]
}

# sl_secs MS: seconds with one decimal.
sl_secs() { awk -v ms="$1" 'BEGIN {printf "%.1f", ms / 1000}'; }

# sl_read_start FILE [OUT]: read FILE whole (into OUT, /dev/null by
# default) in the background; SL_READ is the file that gets "rc end-ns"
# when the read ends.  A read stuck in a FUSE request cannot be killed
# while its node answers nothing: the test waits for SL_READ with a
# deadline instead, and lib.sh's cleanup (killing the nodes) frees it.
SL_READS=0
sl_read_start() {
	SL_READS=$((SL_READS + 1))
	SL_READ=$T_DIR/read.$SL_READS
	rm -f "$SL_READ"
	( cat "$1" > "${2:-/dev/null}"; echo "$? $(date +%s%N)" > "$SL_READ.tmp"; mv "$SL_READ.tmp" "$SL_READ" ) &
	T_PIDS+=("$!")
}
# sl_read_ended: the read of the last sl_read_start has ended.
sl_read_ended() { [ -f "$SL_READ" ]; }
# sl_read_rc / sl_read_end: its exit status and end time (ns).
sl_read_rc() { cut -d' ' -f1 "$SL_READ"; }
sl_read_end() { cut -d' ' -f2 "$SL_READ"; }
# sl_in_bytes NAME: bytes of file content NAME has received in the
# transfers now coming in (`oand status --json` .transfers, direction
# "in": .done); empty when none is under way.
sl_in_bytes() { sl_status "$1" | jq -r '[.transfers[] | select(.direction == "in") | .done] | if length > 0 then add else empty end'; }
# sl_read_wait NAME LIMIT_S STALL_S: wait (a poll a second) until the
# read of the last sl_read_start ends (0), or LIMIT_S seconds have passed,
# or node NAME has received no byte of it for STALL_S seconds (1, with
# SL_READ_WHY saying which): a read that stalls fails without waiting
# out the whole limit.
sl_read_wait() {
	local name=$1 now last= n
	local deadline=$(( $(date +%s%N) + $2 * 1000000000 )) moved=$(date +%s%N)
	while ! sl_read_ended; do
		now=$(date +%s%N)
		n=$(sl_in_bytes "$name")
		if [ -n "$n" ] && [ "$n" != "$last" ]; then last=$n moved=$now; fi
		if [ "$now" -ge "$deadline" ]; then
			SL_READ_WHY="not ended after $2 s"
			return 1
		fi
		if [ $(( (now - moved) / 1000000000 )) -ge "$3" ]; then
			SL_READ_WHY="no byte received for $3 s"
			return 1
		fi
		sleep 1
	done
}

# sl_cut: cut the link both ways.  SL_CUT=blackhole (the default): every
# packet each end sends is dropped silently (tc's blackhole qdisc on both
# ends; like a firewall's drop, the nodes see nothing but silence);
# SL_CUT=down: a's end goes down (b's loses its carrier; sends fail at
# once).  sl_restore puts the link back as sl_pair made it.
sl_cut() {
	case "${SL_CUT:-blackhole}" in
	blackhole)
		ip netns exec "$SL_P-a" tc qdisc replace dev eth0 root blackhole &&
			ip netns exec "$SL_P-b" tc qdisc replace dev eth0 root blackhole ;;
	down) ip -n "$SL_P-a" link set eth0 down ;;
	*) t_die "SL_CUT: blackhole or down, not '$SL_CUT'" ;;
	esac
}
sl_restore() {
	case "${SL_CUT:-blackhole}" in
	blackhole)
		sl_shape "$SL_P-a" "$SL_RATE" && sl_shape "$SL_P-b" "" ;;
	down) ip -n "$SL_P-a" link set eth0 up ;;
	esac
}
