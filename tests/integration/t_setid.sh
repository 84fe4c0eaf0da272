#!/usr/bin/env bash
# Set-user-ID and set-group-ID bits on a real mount, each case compared
# with the same operations on a tmpfs: a write, an open with O_TRUNC or a
# truncate by a user takes them away (from a file of root's and of
# another user's), as fstat in the writing process sees at once; root
# keeps them when writing; a set-group-ID bit without group-execute stays
# for a member of the file's group only; chown takes them away.  The
# users are bare uids (setpriv): nothing is added to the system.
. "$(dirname "$0")/lib.sh"
t_init
command -v setpriv >/dev/null || t_die "setpriv (util-linux) is needed"
chmod 755 "$T_DIR"	# the users reach the mount and the reference
conf=$(t_conf n1)
sed -i 's|^oan = { |oan = { mount-options = "allow_other"; |' "$conf"
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt
R=$T_DIR/ref
mkdir -p "$R"
mount -t tmpfs -o size=1m,mode=755 tmpfs "$R" || t_die "cannot mount a tmpfs on $R"
# (where the users may run it)
install -m 755 "$OAND_TOOLS/fsop" "$T_DIR/fsop" || t_die "fsop is not built in $OAND_TOOLS"

U=60501 V=60502 G=60503	# a user, another user, a group U may be in
as_user() { setpriv --reuid=$U --regid=$U --clear-groups "$@"; }
as_member() { setpriv --reuid=$U --regid=$U --groups=$G "$@"; }

# same_as_tmpfs NAME MODE OWNER CMD...: in both trees, NAME is made with
# MODE and OWNER, then CMD runs in that folder with $f set to NAME; the
# mount must end with the mode, owner and content of the reference.  The
# mode the mount ends with goes to $got.
got=
same_as_tmpfs() {
	local name=$1 mode=$2 owner=$3 d out r m
	shift 3
	for d in "$R" "$M"; do
		printf 'hello\n' > "$d/$name" && chown "$owner" "$d/$name" && chmod "$mode" "$d/$name" ||
			t_fail "$name: cannot make it in $d"
		out=$(cd "$d" && f=$name "$@" 2>&1) || t_fail "$name: failed in $d: $out"
	done
	r=$(stat -c '%a %u:%g' "$R/$name")
	m=$(stat -c '%a %u:%g' "$M/$name")
	t_eq "$m" "$r" "$name: mode and owner on the mount vs tmpfs"
	t_check "$name: content on the mount vs tmpfs" cmp -s "$R/$name" "$M/$name"
	got=${m%% *}
}

# A write (no truncation) by a user.
same_as_tmpfs w_root 6777 0:0 as_user sh -c 'printf x 1<>"$f"'
t_eq "$got" 777 "a user's write to root's 06777 file"
same_as_tmpfs w_other 6777 $V:$V as_user sh -c 'printf x 1<>"$f"'
t_eq "$got" 777 "a user's write to another user's 06777 file"
same_as_tmpfs w_suid 4757 0:0 as_user sh -c 'printf x 1<>"$f"'
t_eq "$got" 757 "a user's write to a 04757 file"
# What the writer's fstat sees right after its write (pjdfstest chmod/12.t).
fstat_after_write() {
	printf 'hello\n' > "$1" && chmod 6777 "$1" && as_user "$T_DIR/fsop" wmode "$1" x
}
fstat_ref=$(fstat_after_write "$R/fstat" 2>&1)
fstat_mnt=$(fstat_after_write "$M/fstat" 2>&1)
t_eq "$fstat_mnt" "$fstat_ref" "fstat in the writing process, mount vs tmpfs"
t_eq "$fstat_mnt" 777 "fstat in the writing process"

# Truncation by a user: open with O_TRUNC (with and without a write),
# truncate(1) (open, then ftruncate, for which the kernel sends the mode
# change with the handle only).
same_as_tmpfs otrunc_write 6777 0:0 as_user sh -c 'printf x > "$f"'
t_eq "$got" 777 "a user's open with O_TRUNC and write"
same_as_tmpfs otrunc 6777 0:0 as_user sh -c ': > "$f"'
t_eq "$got" 777 "a user's open with O_TRUNC"
same_as_tmpfs ftruncate 6777 $V:$V as_user sh -c 'truncate -s 2 "$f"'
t_eq "$got" 777 "a user's truncate(1)"

# Root keeps them.
same_as_tmpfs w_by_root 6777 $V:$V sh -c 'printf x 1<>"$f"'
t_eq "$got" 6777 "root's write"
same_as_tmpfs otrunc_by_root 6777 $V:$V sh -c 'printf x > "$f"'
t_eq "$got" 6777 "root's open with O_TRUNC"

# Set-group-ID without group-execute: gone for a user outside the group,
# kept for a member (as the reference does on this kernel).
same_as_tmpfs sgid_outsider 2767 0:$G as_user sh -c 'printf x 1<>"$f"'
same_as_tmpfs sgid_member 2767 0:$G as_member sh -c 'printf x 1<>"$f"'

# chown: by the owner to a group of its own, by root.
same_as_tmpfs chgrp_owner 6777 $U:$U as_member sh -c 'chgrp '$G' "$f"'
t_eq "$got" 777 "chgrp by the owner"
same_as_tmpfs chown_root 6777 $V:$V sh -c 'chown '$U' "$f"'
t_eq "$got" 777 "chown by root"
same_as_tmpfs chown_root_sgid 2745 $V:$V sh -c 'chown '$U' "$f"'

t_stop n1 || t_fail "unmount"
t_done
