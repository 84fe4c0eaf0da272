#!/usr/bin/env bash
# A whole file fetched over a slow link goes at the link's rate.
#
# Two mounted nodes on a veth pair whose a end is shaped at 1 Mbit/s
# (slowlink.sh; replicas = 1, so nothing moves until b reads).  A 4 MiB
# file of random bytes is written on a through its mount; once b lists it
# at its size (and, where getfattr is, as content held elsewhere), b reads
# it whole: `cat b.mnt/f > /dev/null`, a cold read whose content comes
# over the link.  It must end within 1.25 x the link time of the file's
# bytes (size x 8 / rate) plus 3 s of fixed setup (asking a for the file,
# Tox's file-transfer handshake, the first round trips through the
# shaper's 400 ms queue), and what b then holds must have the source's
# SHA-256.  Prints the fraction of the link rate the read achieved.
#
# Knobs: T_RATE (1mbit), T_MB (4, MiB), T_DEBUG=1, T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_init
. "$(dirname "$0")/slowlink.sh"
RATE=${T_RATE:-1mbit}
SIZE=$(( ${T_MB:-4} * 1048576 ))
SETUP_MS=3000	# fixed setup allowance, see above
bits=$(sl_bits "$RATE")
link_ms=$(( SIZE * 8 * 1000 / bits ))
bound_ms=$(( link_ms * 5 / 4 + SETUP_MS ))

sl_pair "$RATE"
sl_nodes a b
sl_put_file f "$SIZE"
want=$SL_SUM
if command -v getfattr >/dev/null; then
	t_eq "$(getfattr --only-values -n user.oand.state "$T_DIR/b.mnt/f" 2>/dev/null)" remote \
		"b does not hold f's content before reading it (a cold read)"
fi

tx0=$(sl_tx a)
t0=$(date +%s%N)
sl_read_start "$T_DIR/b.mnt/f"
# Watched for 2 x the bound, long enough to tell slow from stuck, or
# until b has received no byte for 60 s (the default fetch-timeout).
watch=$(( bound_ms * 2 / 1000 + 30 ))
if ! sl_read_wait b $watch 60; then
	t_fail "b's read of f: $SL_READ_WHY (bound $(sl_secs $bound_ms) s); b received" \
		"$(sl_in_bytes b) of $SIZE bytes; a sent $(( $(sl_tx a) - tx0 )) bytes"
	sl_dump a b
elif ms=$(( ($(sl_read_end) - t0) / 1000000 )); [ "$(sl_read_rc)" != 0 ]; then
	# A failed read is not read again for its checksum (a second wait).
	t_fail "cat b.mnt/f failed (status $(sl_read_rc)) after $(sl_secs $ms) s; a sent $(( $(sl_tx a) - tx0 )) bytes"
	sl_dump a b
else
	sent=$(( $(sl_tx a) - tx0 ))
	frac=$(awk -v l="$link_ms" -v t="$ms" 'BEGIN {printf "%.2f", l / t}')
	t_log "b read $SIZE bytes at $RATE in $(sl_secs $ms) s (link time $(sl_secs $link_ms) s," \
		"bound $(sl_secs $bound_ms) s): $frac of the link rate; a sent $sent bytes" \
		"($(awk -v s="$sent" -v n="$SIZE" 'BEGIN {printf "%.3f", s / n}') per file byte)"
	t_check "b read f within $(sl_secs $bound_ms) s (1.25 x $(sl_secs $link_ms) s + $((SETUP_MS / 1000)) s), took $(sl_secs $ms) s" \
		[ "$ms" -le "$bound_ms" ]
	t_eq "$(sha256sum < "$T_DIR/b.mnt/f" | cut -d' ' -f1)" "$want" "SHA-256 of f read on b"
fi
sl_stop a b
t_done
