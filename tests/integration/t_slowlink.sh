#!/usr/bin/env bash
# Replication keeps going on a slow link.
#
# Two mounted nodes in two namespaces joined by one veth pair; a's end is
# shaped with tbf, so everything a sends to b goes at that rate
# (slowlink.sh).  Each round starts two fresh nodes (no earlier
# transfers), lets them link, then a makes a burst of 50 folders of 100
# empty files each under one top folder (5,051 entries).  From the end of
# the burst, b must hold every entry within
#   - twice the time the link needs for the bytes a's end sent from the
#     start of the burst until then (veth counters), plus 10 s, and
#   - an absolute cap: the same with 300 bytes per entry, whatever a sent
#     (a node that sends too much is as wrong as one that stalls),
# and b must never list a offline meanwhile; b's status must say it lacks
# a's changes during the catch-up and that it caught up after it.  Rounds:
# one at 1 Mbit/s, one at 256 kbit/s (T_RATES; make check-slow runs
# more: s_slowrounds.sh); each prints its time, the bytes a sent and the
# bytes per entry.
#
# Knobs for manual runs: T_RATE=R runs T_ROUNDS (3) rounds at R instead;
# T_FOLDERS, T_FILES size the burst; T_WATCH=S keeps watching a round that
# has not caught up for S seconds (to see how it goes on, not to pass
# it); T_DEBUG=1 logs at debug level and samples both nodes' counters
# into $T_DIR/samples.N.status; T_KEEP=1 keeps logs and samples.
. "$(dirname "$0")/lib.sh"
t_init
. "$(dirname "$0")/slowlink.sh"
FOLDERS=${T_FOLDERS:-50}
FILES=${T_FILES:-100}
BPE=300		# bytes per entry of the absolute cap
ENTRIES=$((1 + FOLDERS + FOLDERS * FILES))
if [ -n "${T_RATE:-}" ]; then
	RATES=$(for _ in $(seq 1 "${T_ROUNDS:-3}"); do echo "$T_RATE"; done)
else
	RATES=${T_RATES:-1mbit 256kbit}
fi

# With T_DEBUG, every poll also records both nodes' counters.
debug_sample() {
	local n
	for n in $A $B; do
		sl_status $n | jq -c '{e: .entries, tox: (.tox | del(.id, .dht_key)), sync}' |
			sed "s/^/$1 $n /"
	done >> "$T_DIR/samples.$r.status"
}
[ "${T_DEBUG:-0}" = 1 ] && SL_HOOK=debug_sample

r=0 late=0
for rate in $RATES; do
	r=$((r + 1))
	bits=$(sl_bits "$rate")
	cap_ms=$(( 2 * ENTRIES * BPE * 8 * 1000 / bits + 10000 ))
	watch=$(( cap_ms / 1000 + 1 ))
	[ "${T_WATCH:-0}" -gt "$watch" ] && watch=$T_WATCH
	A=a$r B=b$r
	sl_pair "$rate"
	sl_nodes $A $B
	base=$(sl_entries $B)
	want=$((base + ENTRIES))
	SL_TX0=$(sl_tx a)
	t0=$(date +%s%N)
	sl_burst "$T_DIR/$A.mnt/burst" "$FOLDERS" "$FILES" || t_die "round $r: the burst on $A failed"
	SL_T0=$(date +%s%N)
	t_log "round $r ($rate): a made $ENTRIES entries in $(( (SL_T0 - t0) / 1000000 )) ms"
	sl_catchup $B $A "$want" "$watch" "$T_DIR/samples.$r"
	bound_ms=$(( 2 * SL_SENT * 8 * 1000 / bits + 10000 ))
	if [ -n "$SL_DONE_MS" ]; then
		t_log "round $r ($rate): b held all $ENTRIES entries after $(sl_secs $SL_DONE_MS) s;" \
			"a sent $SL_SENT bytes, $((SL_SENT / ENTRIES)) per entry;" \
			"bounds $(sl_secs $bound_ms) s (bytes sent), $(sl_secs $cap_ms) s (cap);" \
			"b listed a offline in $SL_OFFLINE poll(s)"
		t_check "round $r ($rate): b caught up within $(sl_secs $bound_ms) s (2 x the link time of what a sent + 10 s)" \
			[ "$SL_DONE_MS" -le "$bound_ms" ]
		t_check "round $r ($rate): b caught up within $(sl_secs $cap_ms) s ($BPE bytes per entry)" \
			[ "$SL_DONE_MS" -le "$cap_ms" ]
		n=$(find "$T_DIR/$B.mnt/burst" | wc -l)
		t_eq "$n" "$ENTRIES" "round $r: b's mount lists every entry of the burst"
		t_check "round $r: b's status said it lacked changes of a meanwhile (at most $SL_BEHIND)" \
			[ "$SL_BEHIND" -gt 0 ]
		t_check "round $r: b's status says it caught up with a" t_wait 15 "b to say it caught up" \
			sl_caught_up $B $A
	else
		t_fail "round $r ($rate): b held $((SL_GOT - base)) of $ENTRIES entries after $watch s" \
			"(cap $(sl_secs $cap_ms) s); a sent $SL_SENT bytes, $((SL_SENT / (SL_GOT - base > 0 ? SL_GOT - base : 1))) per entry held"
		sl_dump $A $B
	fi
	{ [ -n "$SL_DONE_MS" ] && [ "$SL_DONE_MS" -le "$bound_ms" ] && [ "$SL_DONE_MS" -le "$cap_ms" ]; } ||
		late=$((late + 1))
	t_check "round $r ($rate): b never listed a offline (offline in $SL_OFFLINE poll(s))" [ "$SL_OFFLINE" -eq 0 ]
	sl_stop $A $B
done
t_log "$late of $r round(s) did not catch up in time"
t_done
