#!/usr/bin/env bash
# A blob that no longer matches its SHA-256 is never served: reads fail
# with EIO, the blob is moved to DATA/corrupt, the failure is logged, and
# the namespace (ls, stat, xattrs) keeps working.  Both while the node
# runs (the blob changed after it was verified) and after a restart.
. "$(dirname "$0")/lib.sh"
t_init
conf=$(t_conf n1)
data="$T_DIR/n1.data"
mnt="$T_DIR/n1.mnt"
t_start_fg n1 || t_die "node did not start"

head -c 300000 /dev/urandom > "$T_DIR/a"
head -c 5000 /dev/urandom > "$T_DIR/b"
cp "$T_DIR/a" "$mnt/a" && cp "$T_DIR/b" "$mnt/b" || t_die "cannot write"
t_check "a reads back" cmp -s "$T_DIR/a" "$mnt/a"

blob_of() { # path in the mount -> blob file in the store
	local h
	h=$(getfattr --absolute-names --only-values -n user.oand.sha256 "$1") || return 1
	echo "$data/objects/${h:0:2}/${h:2:2}/$h"
}
flip_byte() { # invert one byte in the middle of a file, size unchanged
	local off old
	off=$(( $(stat -c %s "$1") / 2 ))
	old=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	chmod u+w "$1"
	printf "\\$(printf %o $(( 255 - old )))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
	[ "$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')" = $(( 255 - old )) ] || t_die "cannot change $1"
}

# 1. While running: the copy was verified before, then changed on disk.
ba=$(blob_of "$mnt/a") || t_die "no sha256 xattr"
t_check "blob of a exists" test -f "$ba"
flip_byte "$ba"
sync; echo 3 > /proc/sys/vm/drop_caches	# no page of a served from cache
out=$(cat "$mnt/a" 2>&1 >/dev/null)
case "$out" in *"Input/output error"*) t_pass ;; *) t_fail "corrupt a: expected EIO, got '$out'" ;; esac
t_check "corrupt blob moved aside" test -f "$data/corrupt/$(basename "$ba")"
t_check "corrupt blob not in objects" test ! -e "$ba"
t_check "failure is logged" grep -q "fails its SHA-256 check" "$T_DIR/n1.log"
t_eq "$(stat -c %s "$mnt/a")" 300000 "stat of a still works"
t_eq "$(getfattr --absolute-names --only-values -n user.oand.holders "$mnt/a" 2>/dev/null)" "" \
	"this node no longer claims to hold a"
t_check "ls still lists a" sh -c "ls '$mnt' | grep -qx a"
t_check "b unaffected" cmp -s "$T_DIR/b" "$mnt/b"

# 2. After a restart (nothing verified yet in memory).
bb=$(blob_of "$mnt/b") || t_die "no sha256 xattr for b"
t_stop n1 || t_die "stop"
flip_byte "$bb"
t_start_fg n1 || t_die "restart"
out=$(cat "$mnt/b" 2>&1 >/dev/null)
case "$out" in *"Input/output error"*) t_pass ;; *) t_fail "corrupt b: expected EIO, got '$out'" ;; esac
t_check "no byte of b was served" sh -c "! cat '$mnt/b' > /dev/null 2>&1"

# 3. Writing the content again heals the file.
cp "$T_DIR/b" "$mnt/b" || t_fail "rewrite b"
t_check "b heals when written again" cmp -s "$T_DIR/b" "$mnt/b"
t_stop n1 || t_fail "clean stop"
t_done
