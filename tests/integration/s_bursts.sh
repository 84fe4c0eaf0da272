#!/usr/bin/env bash
# Big files both ways and bursts of entries, round after round, on the
# same two nodes.
#
# Two mounted nodes on a veth pair left unshaped (slowlink.sh;
# replicas = 1, so content moves only when read).  Each of 5 rounds:
#   1. a file of random bytes written on a, then read whole on b (a cold
#      read over the link) and its SHA-256 compared: 1 GiB in the first
#      round, 256 MiB in the next (the stall came after GiB-scale
#      transfers, in the third round or later; smaller ones keep the
#      test's time and the disk it needs, as b keeps what it read, down);
#   2. the same written on b and read on a;
#   3. a burst of 100 folders of 100 empty files on a (10,101 entries):
#      b must hold them all within 120 s of the burst's end, never listing
#      a offline meanwhile;
#   4. both big files removed (on a), so the disk holds two at most.
# A read must end within 30 s + 1 s per 4 MiB (a quarter of the rate
# bench/share measures on loopback; a read that receives nothing for 60
# s fails then).  Each round prints its times and the data dirs' sizes;
# the rounds after one that failed are skipped.
#
# Knobs: T_ROUNDS (5), T_MB (1024), T_MB_NEXT (256), T_FOLDERS (100), T_FILES (100),
# T_CATCHUP_S (120), T_DEBUG=1, T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_init
. "$(dirname "$0")/slowlink.sh"
ROUNDS=${T_ROUNDS:-5}
FIRST=$(( ${T_MB:-1024} * 1048576 ))
NEXT=$(( ${T_MB_NEXT:-256} * 1048576 ))
SIZE=$FIRST
FOLDERS=${T_FOLDERS:-100}
FILES=${T_FILES:-100}
CATCHUP_S=${T_CATCHUP_S:-120}
ENTRIES=$((1 + FOLDERS + FOLDERS * FILES))
need_mb=$(( (FIRST + (ROUNDS - 1) * NEXT) * 2 / 1048576 + 512 ))
avail_kb=$(df -Pk "$T_DIR" | awk 'NR == 2 {print $4}')
[ "$avail_kb" -ge $(( need_mb * 1024 )) ] ||
	t_die "$T_DIR has $((avail_kb / 1024)) MiB free; the test needs $need_mb MiB"

sl_pair unlimited
sl_nodes a b

# big FROM TO NAME: SIZE random bytes written on FROM as NAME, read on TO
# (cold) and compared; logs the times.
big() {
	local from=$1 to=$2 f=$3 sum t0 ms wr
	t0=$(date +%s%N)
	sum=$(head -c "$SIZE" /dev/urandom | tee "$T_DIR/$from.mnt/$f" | sha256sum | cut -d' ' -f1)
	[ "$(stat -c %s "$T_DIR/$from.mnt/$f" 2>/dev/null)" = "$SIZE" ] ||
		{ t_fail "round $r: writing $f on $from failed"; return 1; }
	wr=$(( ($(date +%s%N) - t0) / 1000000 ))
	t_wait 60 "$to to list $f at $SIZE bytes" sh -c "[ \"\$(stat -c %s '$T_DIR/$to.mnt/$f')\" = $SIZE ]" ||
		{ t_fail "round $r: $to does not list $f"; return 1; }
	t0=$(date +%s%N)
	sl_read_start "$T_DIR/$to.mnt/$f"
	if ! sl_read_wait "$to" "$read_s" 60; then
		t_fail "round $r: $to's read of $f: $SL_READ_WHY (bound $read_s s); received $(sl_in_bytes "$to") of $SIZE bytes"
		sl_dump a b
		return 1
	fi
	ms=$(( ($(sl_read_end) - t0) / 1000000 ))
	# A failed read is not read again for its checksum (a second wait).
	if [ "$(sl_read_rc)" != 0 ]; then
		t_fail "round $r: cat $to.mnt/$f failed (status $(sl_read_rc)) after $(sl_secs $ms) s"
		sl_dump a b
		return 1
	fi
	t_check "round $r: $to read $f within $read_s s, took $(sl_secs $ms) s" [ "$ms" -le $((read_s * 1000)) ]
	t_eq "$(sha256sum < "$T_DIR/$to.mnt/$f" | cut -d' ' -f1)" "$sum" "round $r: SHA-256 of $f read on $to"
	t_log "round $r: $f written on $from in $(sl_secs $wr) s, read on $to in $(sl_secs $ms) s" \
		"($(awk -v b="$SIZE" -v ms="$ms" 'BEGIN {printf "%.1f", b / 1048576 / (ms / 1000)}') MiB/s)"
}

for r in $(seq 1 "$ROUNDS"); do
	[ "$r" -gt 1 ] && SIZE=$NEXT
	read_s=$(( 30 + SIZE / 4194304 ))
	big a b "fa$r"
	big b a "fb$r"
	base=$(sl_entries b)
	SL_TX0=$(sl_tx a)
	t0=$(date +%s%N)
	sl_burst "$T_DIR/a.mnt/burst$r" "$FOLDERS" "$FILES" || t_die "round $r: the burst on a failed"
	SL_T0=$(date +%s%N)
	sl_catchup b a $((base + ENTRIES)) "$CATCHUP_S" "$T_DIR/samples.$r"
	if [ -n "$SL_DONE_MS" ]; then
		t_log "round $r: a made $ENTRIES entries in $(( (SL_T0 - t0) / 1000000 )) ms; b held them" \
			"$(sl_secs $SL_DONE_MS) s later; a sent $SL_SENT bytes, $((SL_SENT / ENTRIES)) per entry"
		t_pass
	else
		t_fail "round $r: b held $((SL_GOT - base)) of $ENTRIES entries $CATCHUP_S s after the burst"
		sl_dump a b
	fi
	t_check "round $r: b never listed a offline during the catch-up (offline in $SL_OFFLINE poll(s))" \
		[ "$SL_OFFLINE" -eq 0 ]
	rm -f "$T_DIR/a.mnt/fa$r" "$T_DIR/a.mnt/fb$r" || t_fail "round $r: cannot remove the big files on a"
	t_log "round $r: data dirs hold $(du -sm "$T_DIR/a.data" | cut -f1) MiB (a), $(du -sm "$T_DIR/b.data" | cut -f1) MiB (b)"
	# After a round that failed, the next ones would only fail after it.
	if [ "$T_FAILED" -gt 0 ] && [ "$r" -lt "$ROUNDS" ]; then
		t_log "rounds $((r + 1)) to $ROUNDS skipped: round $r failed"
		break
	fi
done
sl_stop a b
t_done
