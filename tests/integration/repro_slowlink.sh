#!/usr/bin/env bash
# Replication keeps going on a slow link.
#
# Two mounted nodes in two namespaces joined by one veth pair; a's end is
# shaped with tbf at T_RATE (default 1mbit), so everything a sends to b
# goes at that rate.  Each round starts two fresh nodes (no earlier
# transfers), lets them link, then a makes a burst of T_FOLDERS folders of
# T_FILES empty files each under one top folder.  b must hold every entry
# within twice the time the link needs for the bytes it carried (from the
# veth's counters) plus 10 s, or, when it never finishes, within the same
# bound computed with T_BPE bytes per entry; and b must never list a
# offline meanwhile.  Each round prints the bytes a sent per entry and how
# long b took.  T_ROUNDS rounds (default 3); T_WATCH=S watches a round
# that has not caught up for S seconds at least (to see how it goes on,
# not to pass it); T_DEBUG=1 logs at debug level
# (the nodes' counters: src/net.c "net: link" lines).  T_KEEP=1 keeps the
# logs and samples in $T_DIR.
. "$(dirname "$0")/lib.sh"
t_init
for t in jq nsenter tc python3; do command -v $t >/dev/null || t_die "$t is needed"; done
RATE=${T_RATE:-1mbit}
FOLDERS=${T_FOLDERS:-50}
FILES=${T_FILES:-100}
ROUNDS=${T_ROUNDS:-3}
BPE=${T_BPE:-300}	# bytes per entry assumed for the bound of a run that stalls
ENTRIES=$((1 + FOLDERS + FOLDERS * FILES))

bits() {	# 1mbit, 100kbit, 2mbit, 500000 -> bits per second
	case "$1" in
	*mbit) echo $(( ${1%mbit} * 1000000 )) ;;
	*kbit) echo $(( ${1%kbit} * 1000 )) ;;
	*bit) echo "${1%bit}" ;;
	*) echo "$1" ;;
	esac
}
BITS=$(bits "$RATE")
# The longest wait, for a run that stalls.
CAP=$(( 2 * ENTRIES * BPE * 8 / BITS + 10 ))
WATCH=${T_WATCH:-$CAP}
[ "$WATCH" -ge "$CAP" ] || WATCH=$CAP

cat > "$T_DIR/burst.py" <<'EOF'
import os, sys
top, folders, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(top)
for d in range(folders):
    p = os.path.join(top, "d%03d" % d)
    os.mkdir(p)
    for f in range(files):
        open(os.path.join(p, "f%04d" % f), "w").close()
EOF

tx_bytes() { ip netns exec "$1" cat /sys/class/net/eth0/statistics/tx_bytes; }
entries() { "$OAND" -c "$T_DIR/$1.conf" status --json 2>/dev/null | jq -r '.entries // empty'; }
a_state() { t_nodes "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .state' 2>/dev/null; }

stalled=0
for r in $(seq 1 "$ROUNDS"); do
	P=sl$(( ($$ + r) % 900 + 100 ))
	NET=10.$(( ($$ + r) % 200 + 20 )).$(( 90 + r % 100 ))
	A=a$r B=b$r
	t_netns "$P-a"
	t_netns "$P-b"
	ip link add "${P}a" type veth peer name "${P}b" || t_die "cannot create veth"
	ip link set "${P}a" netns "$P-a"
	ip link set "${P}b" netns "$P-b"
	ip -n "$P-a" link set "${P}a" name eth0
	ip -n "$P-b" link set "${P}b" name eth0
	ip -n "$P-a" addr add "$NET.1/24" dev eth0
	ip -n "$P-b" addr add "$NET.2/24" dev eth0
	ip -n "$P-a" link set eth0 up
	ip -n "$P-b" link set eth0 up
	ip netns exec "$P-a" tc qdisc add dev eth0 root tbf rate "$RATE" burst 32kbit latency 400ms ||
		t_die "cannot shape a's end"
	key=$("$OAND" genkey)
	i=0
	for n in $A $B; do
		i=$((i + 1))
		t_conf $n "tox-port = 33445; server-port = 8180; cluster-key = \"$key\";" \
			"heartbeat-interval = 2; ipv6 = false;" \
			"server-domain-name = \"$NET.$i\"; bff-domain-name = \"$NET.1\"; bff-port = 8180;" >/dev/null
		[ "${T_DEBUG:-0}" = 1 ] && sed -i 's/log-level = "info"/log-level = "debug"/' "$T_DIR/$n.conf"
	done
	t_start_mounted_ns "$P-a" $A || t_die "node $A did not start"
	t_start_mounted_ns "$P-b" $B || t_die "node $B did not start"
	t_check "round $r: both online" t_wait 120 "both to list 2 online" sh -c \
		"'$OAND' -c '$T_DIR/$A.conf' nodes --json | jq -e '[.nodes[] | select(.state == \"online\")] | length == 2' >/dev/null &&
		 '$OAND' -c '$T_DIR/$B.conf' nodes --json | jq -e '[.nodes[] | select(.state == \"online\")] | length == 2' >/dev/null"
	t_wait 30 "b to hold what a holds" sh -c "[ \"\$('$OAND' -c '$T_DIR/$A.conf' status --json | jq .entries)\" = \"\$('$OAND' -c '$T_DIR/$B.conf' status --json | jq .entries)\" ]"
	base=$(entries $B)
	want=$((base + ENTRIES))
	tx0=$(tx_bytes "$P-a")
	t0=$(date +%s%N)
	python3 "$T_DIR/burst.py" "$T_DIR/$A.mnt/burst" "$FOLDERS" "$FILES" || t_die "the burst failed"
	t1=$(date +%s%N)
	t_log "round $r: a made $ENTRIES entries in $(( (t1 - t0) / 1000000 )) ms"
	offline=0 got=0 done_ms=
	samples="$T_DIR/samples.$r"
	deadline=$(( t1 + WATCH * 1000000000 ))
	while :; do
		now=$(date +%s%N)
		got=$(entries $B)
		got=${got:-0}
		st=$(a_state $B $A)
		[ "$st" = offline ] && offline=$((offline + 1))
		echo "$(( (now - t1) / 1000000 )) $((got - base)) $(( $(tx_bytes "$P-a") - tx0 )) $st" >> "$samples"
		[ "${T_DEBUG:-0}" = 1 ] && for n in $A $B; do
			"$OAND" -c "$T_DIR/$n.conf" status --json 2>/dev/null |
				jq -c '{e: .entries, tox: (.tox | del(.id, .dht_key)), sync}' | sed "s/^/$(( (now - t1) / 1000000 )) $n /"
		done >> "$samples.status"
		if [ "$got" -ge "$want" ]; then
			done_ms=$(( (now - t1) / 1000000 ))
			break
		fi
		[ "$now" -ge "$deadline" ] && break
		sleep 0.5
	done
	ip netns exec "$P-a" tc -s qdisc show dev eth0 >&2; ip netns exec "$P-a" cat /sys/class/net/eth0/statistics/tx_packets >&2
	sent=$(( $(tx_bytes "$P-a") - tx0 ))
	if [ -n "$done_ms" ]; then
		bound=$(( 2 * sent * 8 * 1000 / BITS + 10000 ))
		t_log "round $r: b held all $ENTRIES entries after $done_ms ms; a sent $sent bytes," \
			"$((sent / ENTRIES)) per entry; bound $bound ms; offline seen $offline times"
		t_check "round $r: b caught up within ${bound} ms" [ "$done_ms" -le "$bound" ]
		[ "$done_ms" -le $((CAP * 1000)) ] || t_fail "round $r: b took longer than ${CAP} s"
		[ "$done_ms" -le "$bound" ] || stalled=$((stalled + 1))
	else
		stalled=$((stalled + 1))
		t_fail "round $r: b held $((got - base)) of $ENTRIES entries after ${WATCH} s; a sent $sent bytes"
		for n in $A $B; do
			"$OAND" -c "$T_DIR/$n.conf" status --json 2>/dev/null |
				jq -c '{entries, tox: (.tox | del(.id, .dht_key)), sync}' | sed "s/^/[$n] /" >&2
		done
	fi
	t_check "round $r: b never listed a offline" [ "$offline" -eq 0 ]
	n=$(find "$T_DIR/$B.mnt/burst" 2>/dev/null | wc -l)
	[ -n "$done_ms" ] && t_eq "$n" "$ENTRIES" "round $r: b's mount lists every entry"
	t_stop $A
	t_stop $B
	ip netns pids "$P-a" | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$P-b" | xargs -r kill -KILL 2>/dev/null
done
t_log "$stalled of $ROUNDS round(s) at $RATE did not catch up in time"
t_done
