#!/usr/bin/env bash
# Configuration errors stop oand and mount.oand before anything is created
# or mounted (the key or file:line named; exit 2, or 1 for mount.oand, as
# mount(8) wants of its helpers); mount.oand with a good
# configuration mounts and is stopped by fusermount3 -u or umount, also
# through `mount -t oand`; `oand status` without a node exits 1.
. "$(dirname "$0")/lib.sh"
t_init

SRC=$(cd "$(dirname "$0")/../.." && pwd)
SBIN_LINK=
# Our /sbin/mount.oand (if we made one) goes whatever happens; then the
# usual cleanup, which must see the test's exit status.
config_cleanup() {
	local rc=$?

	if [ -n "$SBIN_LINK" ] && [ "$(readlink "$SBIN_LINK")" = "$MOUNT_OAND" ]; then
		rm -f "$SBIN_LINK"
	fi
	(exit $rc)
	t_cleanup
}
trap config_cleanup EXIT

not_mounted() { ! awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }
# The pid of the node running on CONF, from its control socket.
node_pid() {
	"$OAND" -c "$1" status --json 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'
}

# bad NAME EXPECTED LINE...: write NAME.conf from the lines (@DATA@ and
# @MNT@ stand for NAME.data and NAME.mnt), start oand on it as a daemon
# and check that it exits 2 with EXPECTED (a fixed string) on stderr,
# mounts nothing and creates neither the data dir nor the mount point.
# BAD_TOOL=mount.oand runs mount.oand on it instead (exit 1).
bad() {
	local name=$1 expect=$2 conf="$T_DIR/$1.conf" data="$T_DIR/$1.data" mnt="$T_DIR/$1.mnt" rc want=2
	shift 2
	printf '%s\n' "$@" | sed -e "s|@DATA@|$data|g" -e "s|@MNT@|$mnt|g" > "$conf"
	if [ "${BAD_TOOL:-oand}" = mount.oand ]; then
		mkdir -p "$mnt"
		(cd "$T_DIR" && "$MOUNT_OAND" -o "conf=$conf" none "$mnt") 2>"$T_DIR/$name.err"
		rc=$? want=1
	else
		(cd "$T_DIR" && "$OAND" -c "$conf" -p "$T_DIR/$name.pid") 2>"$T_DIR/$name.err"
		rc=$?
		[ -s "$T_DIR/$name.pid" ] && T_PIDS+=("$(cat "$T_DIR/$name.pid")")
		t_check "$name: mount point not created" [ ! -e "$mnt" ]
	fi
	t_eq $rc $want "$name: exit status"
	if grep -qF -- "$expect" "$T_DIR/$name.err"; then
		t_pass
	else
		t_fail "$name: expected '$expect' on stderr, got: $(cat "$T_DIR/$name.err")"
	fi
	t_check "$name: nothing mounted" not_mounted "$mnt"
	t_check "$name: data dir not created" [ ! -e "$data" ]
}

GOOD_OAND='oand = { data-dir = "@DATA@"; };'
GOOD_OAN='oan = { mount-point = "@MNT@"; };'

# Syntax error: file and line.
bad syntax "syntax.conf:3: syntax error" \
	'oand = {' '  data-dir = "@DATA@";' '  server-port = ;' '};' "$GOOD_OAN"
bad unclosed "unclosed.conf:" \
	'oand = {' '  data-dir = "@DATA@";' "$GOOD_OAN"
bad duplicate "duplicate.conf:" \
	'oand = { data-dir = "@DATA@"; server-port = 1; server-port = 2; };' "$GOOD_OAN"
# Unknown key, unknown group, a group that is not one.
bad unknown_key "unknown_key.conf:1: unknown key 'oand.colour'" \
	'oand = { data-dir = "@DATA@"; colour = "blue"; };' "$GOOD_OAN"
bad unknown_oan_key "'oan.mountpoint'" \
	"$GOOD_OAND" 'oan = { mount-point = "@MNT@"; mountpoint = "@MNT@"; };'
bad unknown_group "unknown key 'extra'" \
	"$GOOD_OAND" "$GOOD_OAN" 'extra = { a = 1; };'
bad group_type "oan: wrong type" \
	"$GOOD_OAND" 'oan = 5;'
# Wrong types.
bad port_string "oand.server-port: wrong type" \
	'oand = { data-dir = "@DATA@"; server-port = "x"; };' "$GOOD_OAN"
bad port_float "oand.bff-port: wrong type" \
	'oand = { data-dir = "@DATA@"; bff-port = 81.5; };' "$GOOD_OAN"
bad name_int "oand.server-name: wrong type" \
	'oand = { data-dir = "@DATA@"; server-name = 5; };' "$GOOD_OAN"
# data-dir = 5: the data dir falls back to nothing we can name, so check
# that the default one did not appear either.
had_default=$([ -e /var/lib/oand ] && echo yes || echo no)
bad datadir_int "datadir_int.conf:1: oand.data-dir: wrong type" \
	'oand = { data-dir = 5; };' "$GOOD_OAN"
t_eq "$([ -e /var/lib/oand ] && echo yes || echo no)" "$had_default" "data-dir = 5: /var/lib/oand"
# Out of range.
bad tox_range "oand.tox-port: value 70000 out of range" \
	'oand = { data-dir = "@DATA@"; tox-port = 70000; };' "$GOOD_OAN"
bad port_zero "oand.server-port: value 0 out of range" \
	'oand = { data-dir = "@DATA@"; server-port = 0; };' "$GOOD_OAN"
bad port_negative "oand.bff-port: value -1 out of range" \
	'oand = { data-dir = "@DATA@"; bff-port = -1; };' "$GOOD_OAN"
# Bad values.
bad key_short "oand.cluster-key: invalid value" \
	'oand = { data-dir = "@DATA@"; cluster-key = "abc"; };' "$GOOD_OAN"
bad key_nonhex "oand.cluster-key: invalid value" \
	'oand = { data-dir = "@DATA@";' \
	'  cluster-key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"; };' \
	"$GOOD_OAN"
bad key_long "oand.cluster-key: invalid value" \
	'oand = { data-dir = "@DATA@";' \
	'  cluster-key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00"; };' \
	"$GOOD_OAN"
bad log_level "oand.log-level: invalid value" \
	'oand = { data-dir = "@DATA@"; log-level = "loud"; };' "$GOOD_OAN"
bad name_empty "oand.server-name: invalid value" \
	'oand = { data-dir = "@DATA@"; server-name = ""; };' "$GOOD_OAN"
bad datadir_relative "oand.data-dir: invalid value" \
	'oand = { data-dir = "rel/data"; };' "$GOOD_OAN"
t_check "relative data-dir: nothing created in the working folder" [ ! -e "$T_DIR/rel" ]
bad mnt_relative "oan.mount-point: invalid value" \
	"$GOOD_OAND" 'oan = { mount-point = "rel/mnt"; };'

# A missing -c file: exit 2, the file named.
"$OAND" -c "$T_DIR/missing.conf" -p "$T_DIR/missing.pid" 2>"$T_DIR/missing.err"
t_eq $? 2 "missing -c file: exit status"
t_check "missing -c file: named" grep -qF "$T_DIR/missing.conf" "$T_DIR/missing.err"
"$OAND" -c "$T_DIR/missing.conf" status 2>"$T_DIR/missing.err"
t_eq $? 2 "status with a missing -c file: exit status"

# mount.oand with broken configurations.
BAD_TOOL=mount.oand bad m_unknown_key "m_unknown_key.conf:1: unknown key 'oand.colour'" \
	'oand = { data-dir = "@DATA@"; colour = "blue"; };'
BAD_TOOL=mount.oand bad m_syntax "m_syntax.conf:2: syntax error" \
	'oand = {' '  data-dir = "@DATA@" = 1;' '};'
BAD_TOOL=mount.oand bad m_range "oand.tox-port: value 70000 out of range" \
	'oand = { data-dir = "@DATA@"; tox-port = 70000; };'
mkdir -p "$T_DIR/m_missing.mnt"
"$MOUNT_OAND" -o "conf=$T_DIR/m_missing.conf" none "$T_DIR/m_missing.mnt" 2>"$T_DIR/m_missing.err"
t_eq $? 1 "mount.oand with a missing conf: exit status"
t_check "mount.oand with a missing conf: named" grep -qF "$T_DIR/m_missing.conf" "$T_DIR/m_missing.err"
t_check "mount.oand with a missing conf: nothing mounted" not_mounted "$T_DIR/m_missing.mnt"

# oand status with no node: exit 1 and a clear message.
conf=$(t_conf good)
"$OAND" -c "$conf" status >"$T_DIR/status.out" 2>"$T_DIR/status.err"
t_eq $? 1 "status with no node"
t_check "status with no node: message" \
	grep -qF "no node is running on $T_DIR/good.data" "$T_DIR/status.err"
"$OAND" -c "$conf" status --json >/dev/null 2>&1
t_eq $? 1 "status --json with no node"

# The example configuration parses: status fails only for want of a node.
"$OAND" -c "$SRC/etc/oand.conf.example" status >/dev/null 2>"$T_DIR/example.err"
rc=$?
if [ -S /var/lib/oand/oand.sock ]; then
	t_check "example config: not a config error (a node runs on /var/lib/oand)" [ $rc -ne 2 ]
else
	t_eq $rc 1 "example config: status exit status"
	t_check "example config: no node is running" grep -q "no node is running" "$T_DIR/example.err"
fi

# mount.oand with a good configuration, on a mount point of its own (the
# command line wins over the configuration's mount-point).
mnt=$T_DIR/cli.mnt
mkdir -p "$mnt"
"$MOUNT_OAND" -o "conf=$conf" none "$mnt" 2>>"$T_DIR/good.log"
t_eq $? 0 "mount.oand: exit status"
pid=$(node_pid "$conf")
[ -n "$pid" ] && T_PIDS+=("$pid")
t_check "mount.oand: mounted when it returns" t_is_mounted "$mnt"
t_check "mount.oand: not on the configuration's mount-point" not_mounted "$T_DIR/good.mnt"
echo "written through mount.oand" > "$mnt/f1" 2>/dev/null
t_eq "$(cat "$mnt/f1" 2>/dev/null)" "written through mount.oand" "mount.oand: read back"
t_check "mount.oand: node pid known" [ -n "$pid" ]
t_check "mount.oand: fusermount3 -u" fusermount3 -u "$mnt"
t_check "mount.oand: node exits after fusermount3 -u" t_wait 20 "node $pid to exit" t_gone "$pid"
t_check "mount.oand: unmounted" not_mounted "$mnt"

# mount -t oand needs /sbin/mount.oand: ours, or one we link for the test.
if [ ! -e /sbin/mount.oand ] && [ ! -L /sbin/mount.oand ]; then
	ln -s "$MOUNT_OAND" /sbin/mount.oand && SBIN_LINK=/sbin/mount.oand
fi
if [ "$(readlink -f /sbin/mount.oand)" = "$(readlink -f "$MOUNT_OAND")" ]; then
	mnt=$T_DIR/mount-t.mnt
	mkdir -p "$mnt"
	mount -t oand none "$mnt" -o "conf=$conf" 2>>"$T_DIR/good.log"
	t_eq $? 0 "mount -t oand: exit status"
	pid=$(node_pid "$conf")
	[ -n "$pid" ] && T_PIDS+=("$pid")
	t_check "mount -t oand: mounted" t_is_mounted "$mnt"
	t_check "mount -t oand: type fuse.oand" \
		awk -v m="$mnt" '$2 == m && $3 == "fuse.oand" {f=1} END {exit !f}' /proc/mounts
	t_eq "$(cat "$mnt/f1" 2>/dev/null)" "written through mount.oand" "mount -t oand: earlier file"
	echo "written through mount -t" > "$mnt/f2" 2>/dev/null
	t_eq "$(cat "$mnt/f2" 2>/dev/null)" "written through mount -t" "mount -t oand: read back"
	t_check "mount -t oand: node pid known" [ -n "$pid" ]
	t_check "umount" umount "$mnt"
	t_check "umount: node exits" t_wait 20 "node $pid to exit" t_gone "$pid"
	t_check "umount: unmounted" not_mounted "$mnt"
else
	t_log "skipping mount -t oand: /sbin/mount.oand is not $MOUNT_OAND"
fi

t_done
