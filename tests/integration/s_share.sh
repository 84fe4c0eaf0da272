#!/usr/bin/env bash
# A burst of entries and a big file share a slow link; neither waits for
# the other.
#
# Two mounted nodes on a veth pair whose a end is shaped at 2 Mbit/s
# (slowlink.sh; replicas = 1).  A 64 MiB file of random bytes is written
# on a; b starts reading it (a cold read, fetched over the link), and once
# b has received some of it, a makes a burst of 50 folders of 100 empty
# files (5,051 entries).  Then:
#   - b must hold every entry within 2 x the link time of the entries at
#     300 bytes each, at half the link rate (the file may take the other
#     half), + 10 s, counted from the end of the burst as in t_slowlink;
#   - b must hold them before its read of the file has ended (the burst
#     does not wait for the file);
#   - the file must keep moving while the entries move (the file does
#     not wait for the burst): from the start of the burst until b holds
#     every entry, b receives the file at no less than a quarter of the
#     rate it had in the 10 s before the burst (the link halved would
#     leave it half), and never goes more than 10 s without receiving
#     any.  "Received" is b's `oand status --json` .transfers[]
#     (direction "in") .done: the bytes of the file b's node has taken
#     in, counted as they are written to its partial file;
#   - the read must end with status 0 and the source's SHA-256, within
#     1.5 x the link time of file and entries + 30 s (a read that
#     receives nothing for 120 s fails then).
# Prints the times, the file's rates before and during the burst and the
# fraction of the link rate the file achieved.
#
# Knobs: T_RATE (2mbit), T_MB (64), T_FOLDERS (50), T_FILES (100),
# T_DEBUG=1, T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_init
. "$(dirname "$0")/slowlink.sh"
RATE=${T_RATE:-2mbit}
SIZE=$(( ${T_MB:-64} * 1048576 ))
FOLDERS=${T_FOLDERS:-50}
FILES=${T_FILES:-100}
BPE=300		# bytes per entry, as t_slowlink's cap
GAP_MS=10000	# longest stretch without a byte of the file during the burst
ENTRIES=$((1 + FOLDERS + FOLDERS * FILES))
bits=$(sl_bits "$RATE")
bound_ms=$(( 2 * ENTRIES * BPE * 8 * 1000 / (bits / 2) + 10000 ))
file_link_ms=$(( SIZE * 8 * 1000 / bits ))
file_bound_ms=$(( (SIZE + ENTRIES * BPE) * 8 * 1000 / bits * 3 / 2 + 30000 ))

sl_pair "$RATE"
sl_nodes a b
sl_put_file big "$SIZE"
want_sum=$SL_SUM
base=$(sl_entries b)
want=$((base + ENTRIES))

t_read0=$(date +%s%N)
sl_read_start "$T_DIR/b.mnt/big"
# Some of the file first, so that the burst lands on a transfer that runs.
got_some() { [ "$(sl_in_bytes b)" -ge 65536 ] 2>/dev/null; }
t_wait 60 "b to receive 64 KiB of big" got_some ||
	{ sl_dump a b; t_die "b's read of big received nothing in 60 s: $(sl_in_bytes b) bytes"; }
# Its pace before the burst: 10 s of it.
pre0=$(sl_in_bytes b) p0=$(date +%s%N)
sleep 10	# a measuring window, not a wait for a state
pre1=$(sl_in_bytes b) p1=$(date +%s%N)
sl_read_ended && t_die "b read all of big before the burst: nothing left to share (make T_MB larger)"
pre_rate=$(( (${pre1:-0} - ${pre0:-0}) * 1000000000 / (p1 - p0) ))	# bytes/s
t_log "before the burst b received big at $pre_rate bytes/s" \
	"($(awk -v r="$pre_rate" -v l="$bits" 'BEGIN {printf "%.2f", r * 8 / l}') of the link rate), $pre1 bytes in all"
[ "$pre_rate" -gt 0 ] || t_fail "b received no byte of big in the 10 s before the burst: the file stalled on its own"

# Each poll of the catch-up samples the file's bytes (a read that ended
# is the whole file).
file_bytes() {
	local n
	if sl_read_ended; then echo "$SIZE"; return; fi
	n=$(sl_in_bytes b)
	echo "${n:-$last_bytes}"
}
last_bytes=0 last_ms=0 gap=0 first_bytes=
sample_file() {
	local ms=$1 n
	n=$(file_bytes)
	[ -n "$first_bytes" ] || first_bytes=$n
	if [ "$n" -gt "$last_bytes" ]; then
		[ $((ms - last_ms)) -gt "$gap" ] && gap=$((ms - last_ms))
		last_bytes=$n last_ms=$ms
	fi
	echo "$ms $n" >> "$T_DIR/file.samples"
}
SL_HOOK=sample_file
SL_POLL=0.5
SL_TX0=$(sl_tx a)
t0=$(date +%s%N)
first_bytes=$(file_bytes) last_bytes=$first_bytes
sl_burst "$T_DIR/a.mnt/burst" "$FOLDERS" "$FILES" || t_die "the burst on a failed"
t1=$(date +%s%N)
burst_ms=$(( (t1 - t0) / 1000000 ))
t_log "a made $ENTRIES entries in $burst_ms ms while b read big"
# The bound counts from the burst's end (as in t_slowlink): the samples'
# times too, the burst's start being -burst_ms.
SL_T0=$t1 last_ms=$((last_ms - burst_ms))
sl_catchup b a "$want" $(( bound_ms / 1000 + 1 )) "$T_DIR/samples"
end_ms=$(( ($(date +%s%N) - t0) / 1000000 ))	# burst start to the last poll
read_ended_before=0
sl_read_ended && [ "$(sl_read_end)" -le $(( t1 + ${SL_DONE_MS:-0} * 1000000 )) ] && read_ended_before=1
during=$(( last_bytes - first_bytes ))
during_rate=$(( during * 1000 / (end_ms > 0 ? end_ms : 1) ))	# bytes/s
[ $((end_ms - burst_ms - last_ms)) -gt "$gap" ] && gap=$((end_ms - burst_ms - last_ms))
if [ -n "$SL_DONE_MS" ]; then
	t_log "b held all $ENTRIES entries $(sl_secs $SL_DONE_MS) s after the burst (bound $(sl_secs $bound_ms) s);" \
		"a sent $SL_SENT bytes meanwhile; b listed a offline in $SL_OFFLINE poll(s)"
	t_check "b held every entry within $(sl_secs $bound_ms) s of the burst's end, took $(sl_secs $SL_DONE_MS) s" \
		[ "$SL_DONE_MS" -le "$bound_ms" ]
else
	t_fail "b held $((SL_GOT - base)) of $ENTRIES entries $(sl_secs $bound_ms) s after the burst" \
		"(bound); a sent $SL_SENT bytes meanwhile"
	sl_dump a b
fi
t_log "the file during the burst: $during bytes in $(sl_secs $end_ms) s, $during_rate bytes/s" \
	"($(awk -v r="$during_rate" -v l="$bits" 'BEGIN {printf "%.2f", r * 8 / l}') of the link rate);" \
	"longest stretch without a byte $(sl_secs $gap) s"
[ "$pre_rate" -gt 0 ] &&
	t_check "the file kept moving during the burst: $during_rate bytes/s, a quarter of its $pre_rate before wanted" \
		[ $((during_rate * 4)) -ge "$pre_rate" ]
t_check "the file never waited more than $(sl_secs $GAP_MS) s during the burst (waited $(sl_secs $gap) s)" \
	[ "$gap" -le "$GAP_MS" ]
t_check "b held every entry before its read of the file ended" [ $read_ended_before = 0 ]
[ -n "$SL_DONE_MS" ] || t_fail "b never held every entry, so not before the file either"

# The file to its end.
left=$(( file_bound_ms / 1000 - ($(date +%s%N) - t_read0) / 1000000000 ))
[ "$left" -gt 0 ] || left=1
if ! sl_read_wait b "$left" 120; then
	t_fail "b's read of big: $SL_READ_WHY ($(( ($(date +%s%N) - t_read0) / 1000000000 )) s after it began," \
		"bound $(sl_secs $file_bound_ms) s); b received $(sl_in_bytes b) of $SIZE bytes"
	sl_dump a b
elif ms=$(( ($(sl_read_end) - t_read0) / 1000000 )); [ "$(sl_read_rc)" != 0 ]; then
	# A failed read is not read again for its checksum (a second wait).
	t_fail "cat b.mnt/big failed (status $(sl_read_rc)) after $(sl_secs $ms) s"
	sl_dump a b
else
	t_log "b read big ($SIZE bytes) in $(sl_secs $ms) s: $(awk -v l="$file_link_ms" -v t="$ms" \
		'BEGIN {printf "%.2f", l / t}') of the link rate (link time alone $(sl_secs $file_link_ms) s)"
	t_check "b read big within $(sl_secs $file_bound_ms) s, took $(sl_secs $ms) s" [ "$ms" -le "$file_bound_ms" ]
	t_eq "$(sha256sum < "$T_DIR/b.mnt/big" | cut -d' ' -f1)" "$want_sum" "SHA-256 of big read on b"
fi
sl_stop a b
t_done
