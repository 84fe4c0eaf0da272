#!/usr/bin/env bash
# A full data dir: the data dir is a 40 MiB tmpfs and 60 MiB files go in.
# The copy must fail with ENOSPC and leave nothing half-written: a new
# name is absent (or empty, as created before the first write), an
# existing file keeps its old content byte for byte.  Once space is freed
# writes work again and the node keeps going.
. "$(dirname "$0")/lib.sh"
t_init
export LC_ALL=C
conf=$(t_conf n1)
M=$T_DIR/n1.mnt
D=$T_DIR/n1.data
S=$T_DIR/src
mkdir -p "$D" "$S"
# lib.sh's cleanup unmounts everything under T_DIR, this tmpfs included.
mount -t tmpfs -o size=40m tmpfs "$D" || t_die "cannot mount a tmpfs on $D"
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"

MiB=1048576
head -c $((60 * MiB)) /dev/urandom > "$S/60m"
head -c $((15 * MiB)) /dev/urandom > "$S/15m"
head -c $((25 * MiB)) /dev/urandom > "$S/25m"

xattr() { getfattr --absolute-names --only-values -n "$1" "$2"; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }
used_kib() { df -k --output=used "$D" | tail -1 | tr -d ' '; }

# t_enospc DESC CMD...: CMD fails, saying the device is full.
t_enospc() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_fail "$desc: succeeded on a full data dir"
	elif grep -q "No space left on device" <<<"$out"; then
		t_pass
	else
		t_fail "$desc: expected 'No space left on device', got '$out'"
	fi
}

# nothing_at DESC PATH: PATH is absent or an empty file, never a part.
nothing_at() {
	if [ ! -e "$2" ] || { [ -f "$2" ] && [ "$(stat -c %s "$2")" = 0 ] && [ ! -s "$2" ]; }; then
		t_pass
	else
		t_fail "$1: $2 holds $(stat -c %s "$2" 2>&1) bytes after a failed write"
	fi
}

# intact DESC PATH SRC: PATH has SRC's bytes, size and hash.
intact() {
	if cmp "$3" "$2" >/dev/null 2>&1 && [ "$(stat -c %s "$2")" = "$(stat -c %s "$3")" ] &&
	   [ "$(xattr user.oand.sha256 "$2" 2>&1)" = "$(sha "$3")" ]; then
		t_pass
	else
		t_fail "$1: $2 is not its old content (size $(stat -c %s "$2" 2>&1))"
	fi
}

# no_leftovers DESC: failed writes left no staging files and gave their
# space back.
no_leftovers() {
	local n
	n=$(find "$D/staging" -type f 2>/dev/null | wc -l)
	t_eq "$n" 0 "$1: staging files left"
	t_check "$1: space given back (used $(used_kib) KiB, expected <= $(( base + $2 )) KiB)" \
		test "$(used_kib)" -le $(( base + $2 ))
}

cp "$S/15m" "$M/old" || t_fail "cp of 15 MiB onto the 40 MiB data dir"
intact "a 15 MiB file" "$M/old" "$S/15m"
base=$(used_kib)

# ---- a new 60 MiB file ----
t_enospc "cp of 60 MiB to a new name" cp "$S/60m" "$M/new"
nothing_at "cp of 60 MiB to a new name" "$M/new"
intact "the other file after a failed cp" "$M/old" "$S/15m"
no_leftovers "after the failed cp" 1024
t_enospc "cat of 60 MiB to a new name" sh -c "cat '$S/60m' > '$M/new2'"
nothing_at "cat of 60 MiB to a new name" "$M/new2"
t_enospc "dd of 60 MiB to a new name" dd if="$S/60m" of="$M/new3" bs=1M status=none
nothing_at "dd of 60 MiB to a new name" "$M/new3"
rm -f "$M/new" "$M/new2" "$M/new3"

# ---- over an existing file ----
t_enospc "cp of 60 MiB over an existing file" cp "$S/60m" "$M/old"
intact "an existing file overwritten by a failed cp" "$M/old" "$S/15m"
t_enospc "dd appending 60 MiB to an existing file" \
	dd if="$S/60m" of="$M/old" bs=1M seek=15 conv=notrunc status=none
intact "an existing file after a failed append" "$M/old" "$S/15m"
no_leftovers "after the failed overwrites" 1024

# ---- fill it up with 2 MiB files, then free space ----
# Each file different (identical ones would share one blob).
n=0
while [ $n -lt 30 ]; do
	n=$((n + 1))
	dd if="$S/60m" of="$S/fill$n" bs=2M skip=$((n - 1)) count=1 status=none
	cp "$S/fill$n" "$M/fill$n" 2>"$T_DIR/fill.err" || break
done
t_check "filling up ends in ENOSPC ($(cat "$T_DIR/fill.err"))" grep -q "No space left on device" "$T_DIR/fill.err"
nothing_at "the file that did not fit" "$M/fill$n"
for i in $(seq 1 $((n - 1))); do
	intact "fill$i after the disk filled up" "$M/fill$i" "$S/fill$i"
done
intact "the old file after the disk filled up" "$M/old" "$S/15m"
t_check "status answers after ENOSPC" "$OAND" -c "$conf" status >/dev/null
rm -f "$M"/fill* "$M/old" || t_fail "rm after ENOSPC"
t_eq "$(ls -A "$M")" "" "everything removed"
cp "$S/25m" "$M/after" || t_fail "cp of 25 MiB once space is free"
intact "a 25 MiB file written once space is free" "$M/after" "$S/25m"
mkdir "$M/dir" && echo small > "$M/dir/small" || t_fail "mkdir and a small file once space is free"
t_eq "$(cat "$M/dir/small")" small "a small file once space is free"
t_stop n1 || t_fail "unmount"
t_start n1 || t_die "node n1 did not start again (see $T_DIR/n1.log)"
intact "the 25 MiB file after a remount" "$M/after" "$S/25m"
t_eq "$(ls -A "$M")" "$(printf 'after\ndir')" "the tree after a remount"
rm -r "$M/after" "$M/dir" || t_fail "rm after the remount"

# ---- completely full: not even 4 KiB fits any more ----
# Many writers can fill a disk to the last block.  The node must still
# serve what it holds, let rm free space, and start again.

# fill_up TAG: write different files until not even 4 KiB fits; their
# numbers go to keep.
keep=()
fill_up() {
	local bs j n=0
	keep=()
	for bs in $((2 * MiB)) 262144 16384 4096; do
		for j in $(seq 1 40); do
			n=$((n + 1))
			head -c "$bs" /dev/urandom > "$S/$1$n"
			cp "$S/$1$n" "$M/$1$n" 2>/dev/null || break
			keep+=("$n")
		done
	done
	t_log "completely full ($1): $(df -k --output=used,avail "$D" | tail -1), ${#keep[@]} files"
}

# freed TAG DESC: rm of TAG's files frees space; then writes work again.
freed() {
	local out i
	out=$(rm "$M/$1${keep[0]}" 2>&1) || t_fail "$2: rm of one file must work: $out"
	rm -f "$M/$1"* 2>/dev/null
	t_eq "$(ls -A "$M" | wc -l)" 0 "$2: names left after rm of everything"
	out=$(cp "$S/25m" "$M/after" 2>&1) || t_fail "$2: cp of 25 MiB once emptied: $out"
	intact "$2: a 25 MiB file once emptied" "$M/after" "$S/25m"
	rm -f "$M/after"
}

fill_up a
t_check "status answers on a full data dir" "$OAND" -c "$conf" status >/dev/null
for i in "${keep[@]}"; do intact "a$i on a full data dir" "$M/a$i" "$S/a$i"; done
freed a "full data dir"

fill_up b
if ! t_stop n1 || ! t_start n1; then
	t_fail "node n1 does not start again on a full data dir: $(tail -2 "$T_DIR/n1.log")"
	umount -l "$D"
	t_done
fi
for i in "${keep[@]}"; do intact "b$i after a restart on a full data dir" "$M/b$i" "$S/b$i"; done
freed b "restarted on a full data dir"

t_stop n1 || t_fail "clean unmount"
umount "$D" || t_fail "umount of the tmpfs"
t_check "the tmpfs is unmounted" sh -c "! awk -v m='$D' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
t_done
