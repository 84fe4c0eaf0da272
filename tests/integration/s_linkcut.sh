#!/usr/bin/env bash
# Replication picks up where it was after the link was cut for a while.
#
# Two mounted nodes on a veth pair whose a end is shaped at 1 Mbit/s
# (slowlink.sh).  a makes a burst of 50 folders of 100 empty files (5,051
# entries); when b holds about a third of them (by entries or by the
# bytes a sent, see below), the link is cut both ways for 90 s
# (silently, tc's blackhole on both ends; T_CUT=down takes a's end down
# instead), then restored as it was.  b must list a online again within
# RELINK_S (60 s: Tox finding the member again is another matter, see
# t_relink) and, counted from then, hold every entry within t_slowlink's
# bounds: 2 x the link time of what a sent from the restore on + 10 s,
# and 2 x the link time of the entries still missing at 300 bytes each
# + 10 s.  The cut itself
# is not judged (b may list a offline meanwhile); what b saw is printed:
# when it listed a offline, when online again, and its entries.
#
# Knobs: T_RATE (1mbit), T_CUT_S (90), T_CUT (blackhole|down), T_FOLDERS,
# T_FILES, T_DEBUG=1, T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_init
. "$(dirname "$0")/slowlink.sh"
RATE=${T_RATE:-1mbit}
CUT_S=${T_CUT_S:-90}
SL_CUT=${T_CUT:-blackhole}
FOLDERS=${T_FOLDERS:-50}
FILES=${T_FILES:-100}
BPE=300
RELINK_S=60
ENTRIES=$((1 + FOLDERS + FOLDERS * FILES))
bits=$(sl_bits "$RATE")

sl_pair "$RATE"
sl_nodes a b
base=$(sl_entries b)
want=$((base + ENTRIES))
third=$((base + ENTRIES / 3))
tx0=$(sl_tx a)
t0=$(date +%s%N)
sl_burst "$T_DIR/a.mnt/burst" "$FOLDERS" "$FILES" || t_die "the burst on a failed"
t_log "a made $ENTRIES entries in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
# b applies what a sends in answers of many entries at once, so its
# count jumps (0, 700, 3,700, all): "about a third" is taken from the
# bytes too.  The cut comes once b holds at least one entry of the burst
# and a has sent a third of the burst at 300 bytes per entry, or b holds
# a third of it, whichever is first; then an answer is usually on its way.
third_on_way() {
	local n
	n=$(sl_entries b) || return 1
	[ -n "$n" ] && { [ "$n" -ge $third ] ||
		{ [ "$n" -gt "$base" ] && [ $(( $(sl_tx a) - tx0 )) -ge $((ENTRIES * BPE / 3)) ]; }; }
}
# Within t_slowlink's cap for the whole burst.
t_wait $(( 2 * ENTRIES * BPE * 8 / bits + 10 )) "b to hold a third of the burst" third_on_way ||
	{ sl_dump a b; t_die "b did not get a third of the burst ($(( $(sl_entries b) - base )) of $ENTRIES entries)"; }
got=$(sl_entries b)
[ "$got" -lt "$want" ] || t_die "b held every entry before the cut: nothing left to test (make T_RATE lower)"

sl_cut || t_die "cannot cut the link ($SL_CUT)"
c0=$(date +%s%N)
t_log "link cut ($SL_CUT) $(( (c0 - t0) / 1000000 )) ms after the burst began, b holding $((got - base)) of" \
	"$ENTRIES entries, a having sent $(( $(sl_tx a) - tx0 )) bytes"
# Watch the cut for its length (a deadline, not a wait for a state).
offline_at= during=0
while [ $(( $(date +%s%N) - c0 )) -lt $((CUT_S * 1000000000)) ]; do
	st=$(sl_state b a)
	[ -z "$offline_at" ] && [ "$st" = offline ] && offline_at=$(( ($(date +%s%N) - c0) / 1000000 ))
	n=$(sl_entries b)
	echo "$(( ($(date +%s%N) - c0) / 1000000 )) ${n:-?} ${st:-none}" >> "$T_DIR/cut.samples"
	sleep 1
done
got_cut=$(sl_entries b)
sl_restore || t_die "cannot restore the link"
SL_T0=$(date +%s%N) SL_TX0=$(sl_tx a)
t_log "link restored after $CUT_S s; b listed a offline $( [ -n "$offline_at" ] && echo "$(sl_secs $offline_at) s into the cut" || echo never)," \
	"held $((got_cut - base)) entries"
missing=$((want - got_cut))
cap_ms=$(( 2 * missing * BPE * 8 * 1000 / bits + 10000 ))
online_ms=
note_online() { [ -z "$online_ms" ] && [ "$(sl_state b a)" = online ] && online_ms=$1; :; }
SL_HOOK=note_online SL_POLL=0.5
sl_catchup b a "$want" $(( RELINK_S + cap_ms / 1000 + 1 )) "$T_DIR/samples"
bound_ms=$(( 2 * SL_SENT * 8 * 1000 / bits + 10000 ))
t_log "after the restore: b listed a online again $( [ -n "$online_ms" ] && echo "after $(sl_secs $online_ms) s" || echo never)"
t_check "b listed a online again within $RELINK_S s of the restore" \
	[ "${online_ms:-999999999}" -le $((RELINK_S * 1000)) ]
if [ -n "$SL_DONE_MS" ]; then
	took=$(( SL_DONE_MS - ${online_ms:-0} ))
	t_log "b held all $ENTRIES entries $(sl_secs $SL_DONE_MS) s after the restore, $(sl_secs $took) s after" \
		"it listed a online again; a sent $SL_SENT bytes for the $missing missing," \
		"$((SL_SENT / (missing > 0 ? missing : 1))) per entry; bounds $(sl_secs $bound_ms) s (bytes sent)," \
		"$(sl_secs $cap_ms) s (cap)"
	t_check "b caught up within $(sl_secs $bound_ms) s of relinking (2 x the link time of what a sent + 10 s), took $(sl_secs $took) s" \
		[ "$took" -le "$bound_ms" ]
	t_check "b caught up within $(sl_secs $cap_ms) s of relinking ($BPE bytes per missing entry), took $(sl_secs $took) s" \
		[ "$took" -le "$cap_ms" ]
	t_eq "$(find "$T_DIR/b.mnt/burst" | wc -l)" "$ENTRIES" "b's mount lists every entry of the burst"
else
	t_fail "b held $((SL_GOT - base)) of $ENTRIES entries $(sl_secs $cap_ms) s after the restore" \
		"(cap for the $missing missing); a sent $SL_SENT bytes since the restore"
	sl_dump a b
fi
sl_stop a b
t_done
