#!/usr/bin/env bash
# Set-user-ID and set-group-ID bits on a real mount, each case compared
# with the same operations on a tmpfs: a truncate by a user takes them
# away.  The users are bare uids (setpriv): nothing is added to the
# system.
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

U=60501 V=60502 G=60503	# a user, another user, a group U may be in
as_user() { setpriv --reuid=$U --regid=$U --clear-groups "$@"; }
as_member() { setpriv --reuid=$U --regid=$U --groups=$G "$@"; }

# same_as_tmpfs NAME MODE OWNER CMD...: in both trees, NAME is made with MODE and
# OWNER, then CMD runs in that folder with $f set to NAME; the mount must
# end with the mode, owner and content of the reference.  The mode the
# mount ends with goes to $got.
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

# truncate(1) by a user: open, then ftruncate, for which the kernel sends
# the mode change with the handle only.
same_as_tmpfs ftruncate 6777 $V:$V as_user sh -c 'truncate -s 2 "$f"'
t_eq "$got" 777 "a user's truncate(1)"

t_stop n1 || t_fail "unmount"
t_done
