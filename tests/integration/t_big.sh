#!/usr/bin/env bash
# Files from 0 bytes to 100 MiB go in with cp, cat and dd and come back
# byte for byte (cmp, sha256sum, the user.oand.sha256 xattr), also after a
# remount, when every read comes from the store and not the page cache.
# Overwriting and deleting them frees their blobs.
. "$(dirname "$0")/lib.sh"
t_init
export LC_ALL=C
conf=$(t_conf n1)
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt
D=$T_DIR/n1.data
S=$T_DIR/src
O=$T_DIR/out
mkdir -p "$S" "$O"

MiB=1048576
# Around page (4096), FUSE request (128 KiB) and max_write (1 MiB) edges.
sizes="0 1 4095 4096 4097 131071 131072 131073 $MiB $((MiB + 1)) $((10 * MiB + 7)) $((100 * MiB))"

sha() { sha256sum < "$1" | cut -d' ' -f1; }
xattr() { getfattr --absolute-names --only-values -n "$1" "$2"; }

# same DESC A B: A and B hold the same bytes.
same() {
	if cmp "$2" "$3" >/dev/null 2>&1; then
		t_pass
	else
		t_fail "$1: $3 differs from $2 ($(cmp "$2" "$3" 2>&1 | head -1))"
	fi
}

for s in $sizes; do
	head -c "$s" /dev/urandom > "$S/$s" || t_die "cannot make a $s-byte source"
	sum[$s]=$(sha "$S/$s")
done

# ---- in with cp, cat and dd ----
for s in $sizes; do
	cp "$S/$s" "$M/cp.$s" || t_fail "cp of $s bytes into the mount"
	cat "$S/$s" > "$M/cat.$s" || t_fail "cat of $s bytes into the mount"
	# An odd block size: writes that do not line up with pages.
	dd if="$S/$s" of="$M/dd.$s" bs=100000 status=none || t_fail "dd of $s bytes into the mount"
done

# verify: every copy has the right size, bytes, sha256sum and xattr.
verify() {
	local when=$1 s w
	for s in $sizes; do
		for w in cp cat dd; do
			t_eq "$(stat -c %s "$M/$w.$s")" "$s" "$when: size of $w.$s"
			same "$when: cmp $w.$s" "$S/$s" "$M/$w.$s"
			t_eq "$(xattr user.oand.sha256 "$M/$w.$s" 2>&1)" "${sum[$s]}" \
				"$when: user.oand.sha256 of $w.$s"
		done
		# and out again three ways
		cp "$M/cp.$s" "$O/$s" || t_fail "$when: cp of $s bytes out of the mount"
		same "$when: cp out of $s bytes" "$S/$s" "$O/$s"
		t_eq "$(cat "$M/cat.$s" | sha256sum | cut -d' ' -f1)" "${sum[$s]}" \
			"$when: cat out of $s bytes"
		t_eq "$(dd if="$M/dd.$s" bs=77777 status=none | sha256sum | cut -d' ' -f1)" \
			"${sum[$s]}" "$when: dd out of $s bytes"
		rm -f "$O/$s"
	done
}
verify "after writing"

# Reads at offsets that do not line up, from the middle of the big file.
big=$((100 * MiB))
for off in 1 4095 131073 $((50 * MiB + 3)) $((big - 5000)); do
	t_eq "$(dd if="$M/cp.$big" bs=5000 count=1 skip="$off" iflag=skip_bytes status=none | sha256sum)" \
		"$(dd if="$S/$big" bs=5000 count=1 skip="$off" iflag=skip_bytes status=none | sha256sum)" \
		"read of 5000 bytes at offset $off"
done

# Copies inside the mount.
cp "$M/cp.$big" "$M/copy.big" || t_fail "cp of 100 MiB inside the mount"
same "cp of 100 MiB inside the mount" "$S/$big" "$M/copy.big"
cp "$M/cp.$((MiB + 1))" "$M/copy.small" || t_fail "cp of 1 MiB+1 inside the mount"
same "cp of 1 MiB+1 inside the mount" "$S/$((MiB + 1))" "$M/copy.small"

# Overwrite: big over small and small over big, in place (O_TRUNC).
cp "$S/4097" "$M/copy.big" && cp "$S/$((10 * MiB + 7))" "$M/copy.small" || t_fail "overwrites"
same "small content over a big file" "$S/4097" "$M/copy.big"
same "big content over a small file" "$S/$((10 * MiB + 7))" "$M/copy.small"

# ---- again after a remount: reads come from the store ----
t_stop n1 || t_fail "unmount"
t_start n1 || t_die "node n1 did not start again (see $T_DIR/n1.log)"
verify "after a remount"
same "overwritten file after a remount" "$S/4097" "$M/copy.big"

# ---- deleting the files frees their blobs ----
rm -f "$M"/* || t_fail "rm of all files"
t_eq "$(ls -A "$M")" "" "the mount is empty"
js=$("$OAND" -c "$conf" status --json)
t_check "status counts no bytes once all is removed ($js)" grep -q '"bytes":0,' <<<"$js"
# Blobs go once the deletes are durable: the collector runs every second.
store_small() { [ "$(du -sk "$D/objects" | cut -f1)" -lt 1024 ]; }
t_wait 15 "the store to drop removed content" store_small
kb=$(du -sk "$D/objects" | cut -f1)
t_check "the store holds no content of removed files (objects: ${kb} KiB)" test "$kb" -lt 1024

t_stop n1 || t_fail "clean unmount"
t_done
