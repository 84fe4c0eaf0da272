#!/usr/bin/env bash
# POSIX behaviour of the mount, case by case against a tmpfs: permission
# and ownership rules for root, a user, a group member and another user;
# sticky folders; rename edge cases; removal errors; names of 255 and 256
# bytes; symlinks; which times each operation moves; link counts of
# files, unlinked open files included.  tests/posix/posix.py prints one
# line per case; every line must be the same on both.  The mount's
# options include one of libfuse's high-level interface, which the node
# leaves out with a warning.
. "$(dirname "$0")/lib.sh"
t_init
command -v python3 >/dev/null || t_die "python3 is needed"
chmod 755 "$T_DIR"	# the users reach the mount and the reference
conf=$(t_conf n1)
sed -i 's|^oan = { |oan = { mount-options = "allow_other,kernel_cache"; |' "$conf"
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
t_check "kernel_cache is left out with a warning" \
	grep -q "mount option kernel_cache has no effect here" "$T_DIR/n1.log"
M=$T_DIR/n1.mnt
R=$T_DIR/ref
mkdir -p "$R"
mount -t tmpfs -o size=4m,mode=755 tmpfs "$R" || t_die "cannot mount a tmpfs on $R"
PX=$(cd "$(dirname "$0")/../posix" && pwd)/posix.py
mkdir "$R/px" "$M/px" || t_die "mkdir px"
python3 "$PX" "$R/px" > "$T_DIR/ref.out" 2>&1 || t_die "posix.py on tmpfs: $(tail -5 "$T_DIR/ref.out")"
python3 "$PX" "$M/px" > "$T_DIR/mnt.out" 2>&1 || t_fail "posix.py on the mount: $(tail -5 "$T_DIR/mnt.out")"
n=$(wc -l < "$T_DIR/ref.out")
t_check "posix.py ran its cases ($n)" test "$n" -ge 100
# Known gaps, each closed by a later step of doc/namespace.md: shown and
# not counted; one that closes fails here until it leaves the list.
declare -A KNOWN=(
	["utime with ns"]="atime is not kept (step 6)"
	["utime near 0"]="atime is not kept (step 6)"
)
while IFS= read -r want && IFS= read -r got <&3; do
	c=${want%%: *}
	if [ -n "${KNOWN[$c]:-}" ]; then
		if [ "$got" = "$want" ]; then
			t_fail "$c: a known gap (${KNOWN[$c]}) now behaves as on tmpfs: take it off the list"
		else
			t_log "known gap, not counted: $c: ${KNOWN[$c]}: tmpfs '$want', mount '$got'"
		fi
		continue
	fi
	t_eq "$got" "$want" "$c"
done < "$T_DIR/ref.out" 3< "$T_DIR/mnt.out"
t_eq "$(wc -l < "$T_DIR/mnt.out")" "$n" "as many cases on the mount as on tmpfs"
t_stop n1 || t_fail "clean unmount"
t_done
