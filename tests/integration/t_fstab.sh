#!/usr/bin/env bash
# fstab(5) entries of type oand (configuration in conf=) and fuse.oand
# (configuration as the source) mount with `mount MOUNTPOINT` and stop with
# `umount MOUNTPOINT`, read from a private fstab (mount -T) through
# /sbin/mount.oand and /sbin/mount.fuse.oand; mount(8)'s options, flags
# (-f, -s) and exit statuses.  etc/oand.service passes systemd-analyze
# verify (when installed), its ExecStart starts a node that its KillSignal
# stops cleanly, and make install / uninstall handle the unit and the
# helper links.
. "$(dirname "$0")/lib.sh"
t_init

SRC=$(cd "$(dirname "$0")/../.." && pwd)
SBIN_LINKS=()
# Our links in /sbin (if we made them) go whatever happens; then the usual
# cleanup, which must see the test's exit status.
fstab_cleanup() {
	local rc=$? l
	for l in "${SBIN_LINKS[@]}"; do
		[ "$(readlink "$l")" = "$MOUNT_OAND" ] && rm -f "$l"
	done
	(exit $rc)
	t_cleanup
}
trap fstab_cleanup EXIT

not_mounted() { ! t_is_mounted "$1"; }
fstype_of() { awk -v m="$1" '$2 == m {t = $3} END {print t}' /proc/mounts; }
opts_of() { awk -v m="$1" '$2 == m {o = $4} END {print o}' /proc/mounts; }
# The pid of the node running on CONF, from its control socket.
node_pid() { "$OAND" -c "$1" status --json 2>/dev/null | jq -r '.pid // empty' 2>/dev/null; }
# A TCP port nobody listens on, for server-port.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hltn "( sport = :$p )" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

port=$(free_port) || t_die "no free TCP port"
conf=$(t_conf n1 "server-port = $port;")
fstab=$T_DIR/fstab
amnt=$T_DIR/a.mnt	# type oand
bmnt=$T_DIR/b.mnt	# type fuse.oand
mkdir -p "$amnt" "$bmnt" "$T_DIR/bad1.mnt" "$T_DIR/bad2.mnt" "$T_DIR/fake.mnt"
cat > "$fstab" <<EOF
# the two forms of mount.oand(8), FSTAB
none     $amnt  oand       conf=$conf,_netdev,noauto,nofail,defaults,rw,relatime  0 0
$conf    $bmnt  fuse.oand  _netdev,noauto,nofail,user,noatime  0 0
# errors
none     $T_DIR/bad1.mnt  oand  conf=$conf,_netdev,bogus  0 0
none     $T_DIR/bad2.mnt  oand  conf=$T_DIR/missing.conf,_netdev  0 0
none     $T_DIR/fake.mnt  oand  conf=$conf,_netdev  0 0
EOF
head -c 300000 /dev/urandom > "$T_DIR/data.bin"

# mount(8) runs helpers only from /sbin (/sbin/fs.d, /sbin/fs): link ours
# there unless a helper is there already.
usable=()
for h in mount.oand mount.fuse.oand; do
	l=/sbin/$h
	if [ ! -e "$l" ] && [ ! -L "$l" ]; then
		ln -s "$MOUNT_OAND" "$l" && SBIN_LINKS+=("$l")
	fi
	if [ "$(readlink -f "$l")" = "$(readlink -f "$MOUNT_OAND")" ]; then
		usable+=("$h")
	else
		t_log "SKIPPED: the $h checks: $l is $(readlink -f "$l"), not $MOUNT_OAND"
	fi
done
has() { [[ " ${usable[*]} " == *" $1 "* ]]; }

# mount MOUNTPOINT through the fstab, use the tree, check status, umount.
# DESC MOUNTPOINT [READ_BACK]: READ_BACK names a file an earlier mount wrote.
fstab_cycle() {
	local desc=$1 mnt=$2 earlier=${3-} pid rc
	mount -T "$fstab" "$mnt" 2>>"$T_DIR/n1.log"
	rc=$?
	t_eq $rc 0 "$desc: mount -T fstab $mnt: exit status"
	pid=$(node_pid "$conf")
	[ -n "$pid" ] && T_PIDS+=("$pid")
	t_check "$desc: mounted when mount returns" t_is_mounted "$mnt"
	t_eq "$(fstype_of "$mnt")" fuse.oand "$desc: type in /proc/mounts"
	[ $rc -eq 0 ] || return
	if [ -n "$earlier" ]; then
		t_check "$desc: the file an earlier mount wrote" cmp "$T_DIR/data.bin" "$mnt/$earlier"
	fi
	t_check "$desc: write" cp "$T_DIR/data.bin" "$mnt/$desc.bin"
	t_check "$desc: read back" cmp "$T_DIR/data.bin" "$mnt/$desc.bin"
	"$OAND" -c "$conf" status >"$T_DIR/status.out" 2>&1
	t_eq $? 0 "$desc: oand status"
	t_check "$desc: status names the node" grep -q '^node: *n1$' "$T_DIR/status.out"
	t_check "$desc: status names the mount point" grep -qF "mount point: $mnt" "$T_DIR/status.out"
	t_check "$desc: node pid known" [ -n "$pid" ]
	# A second mount of the same entry: the node's data dir is in use.
	mount -T "$fstab" "$mnt" 2>"$T_DIR/again.err"
	rc=$?
	t_check "$desc: mounting again fails (got $rc)" [ $rc -ne 0 ]
	t_check "$desc: still served after the second mount" cmp "$T_DIR/data.bin" "$mnt/$desc.bin"
	t_check "$desc: umount" umount "$mnt"
	t_check "$desc: node exits after umount" t_wait 30 "node $pid to exit" t_gone "$pid"
	t_check "$desc: unmounted" not_mounted "$mnt"
}

if has mount.oand; then
	fstab_cycle oand "$amnt"
	# The atime options FUSE refuses (relatime) are dropped, not fatal.
	# Errors come back through mount(8) with mount(8)'s exit statuses.
	mount -T "$fstab" "$T_DIR/bad1.mnt" 2>"$T_DIR/bad1.err"
	t_eq $? 1 "unknown option: exit status"
	t_check "unknown option: named" grep -q "unknown mount option(s): bogus" "$T_DIR/bad1.err"
	t_check "unknown option: nothing mounted" not_mounted "$T_DIR/bad1.mnt"
	t_check "unknown option: no node" [ -z "$(node_pid "$conf")" ]
	mount -T "$fstab" "$T_DIR/bad2.mnt" 2>"$T_DIR/bad2.err"
	t_eq $? 1 "missing configuration: exit status"
	t_check "missing configuration: named" grep -qF "$T_DIR/missing.conf" "$T_DIR/bad2.err"
	t_check "missing configuration: nothing mounted" not_mounted "$T_DIR/bad2.mnt"
	# -s (sloppy): the unknown option is dropped with a warning.
	mount -s -T "$fstab" "$T_DIR/bad1.mnt" 2>"$T_DIR/sloppy.err"
	t_eq $? 0 "mount -s with an unknown option: exit status"
	pid=$(node_pid "$conf")
	[ -n "$pid" ] && T_PIDS+=("$pid")
	t_check "mount -s: warns" grep -q "ignoring unknown mount option 'bogus'" "$T_DIR/sloppy.err"
	t_check "mount -s: mounted" t_is_mounted "$T_DIR/bad1.mnt"
	t_check "mount -s: umount" umount "$T_DIR/bad1.mnt"
	t_check "mount -s: node exits" t_wait 30 "node $pid to exit" t_gone "$pid"
	# -f (fake): everything checked, nothing mounted.
	mount -f -T "$fstab" "$T_DIR/fake.mnt" 2>"$T_DIR/fake.err"
	t_eq $? 0 "mount -f: exit status"
	t_check "mount -f: nothing mounted" not_mounted "$T_DIR/fake.mnt"
	t_check "mount -f: no node" [ -z "$(node_pid "$conf")" ]
fi
if has mount.fuse.oand; then
	# Same data dir: the file the first form wrote is there.
	earlier=
	has mount.oand && earlier=oand.bin
	fstab_cycle fuse.oand "$bmnt" $earlier
fi
# `user` makes mount(8) add nosuid,nodev,noexec: they reach the mount.
if has mount.fuse.oand; then
	mount -T "$fstab" "$bmnt" 2>>"$T_DIR/n1.log"
	pid=$(node_pid "$conf")
	[ -n "$pid" ] && T_PIDS+=("$pid")
	o=$(opts_of "$bmnt")
	t_check "fuse.oand: nosuid,nodev,noexec,noatime from fstab (got $o)" \
		sh -c "for w in nosuid nodev noexec noatime; do echo ',$o,' | grep -q \",\$w,\" || exit 1; done"
	t_check "fuse.oand: umount" umount "$bmnt"
	t_check "fuse.oand: node exits" t_wait 30 "node $pid to exit" t_gone "$pid"
fi

# The systemd unit.
unit=$T_DIR/unit/oand.service
mkdir -p "$T_DIR/unit" "$T_DIR/man/man5" "$T_DIR/man/man8"
# systemd-analyze verify wants ExecStart's binary and the Documentation=
# pages: the built binary, the pages of the tree.
sed "s|@SBINDIR@|$OAND_BIN|g" "$SRC/etc/oand.service" > "$unit"
cp "$SRC/man/oand.8" "$SRC/man/mount.oand.8" "$T_DIR/man/man8/"
cp "$SRC/man/oand.conf.5" "$T_DIR/man/man5/"
if command -v systemd-analyze >/dev/null 2>&1; then
	if command -v man >/dev/null 2>&1; then
		manopt=--man=yes
	else
		manopt=--man=no
		t_log "man is not installed: systemd-analyze verify --man=no"
	fi
	out=$(MANPATH=$T_DIR/man systemd-analyze verify $manopt "$unit" 2>&1)
	rc=$?
	t_eq $rc 0 "systemd-analyze verify: exit status ($out)"
	t_eq "$out" "" "systemd-analyze verify: no complaint"
else
	t_log "SKIPPED: systemd-analyze is not installed: etc/oand.service not verified"
fi
key() { sed -n "s/^$1=//p" "$unit"; }
t_eq "$(key Type)" forking "unit: Type"
t_eq "$(key PIDFile)" /run/oand.pid "unit: PIDFile"
t_eq "$(key Restart)" on-failure "unit: Restart"
t_check "unit: after network-online.target" grep -qx 'After=network-online.target' "$unit"
t_check "unit: wants network-online.target" grep -qx 'Wants=network-online.target' "$unit"
# Start and stop as systemd would: ExecStart returns once the node is up
# and mounted and has written PIDFile; KillSignal stops it within
# TimeoutStopSec, unmounted and with its pid file gone.
pidfile=$T_DIR/run/oand.pid
mkdir -p "$T_DIR/run"
read -ra cmd <<<"$(key ExecStart)"
for i in "${!cmd[@]}"; do
	case ${cmd[$i]} in
	'${CONF}') cmd[i]=$conf ;;
	/run/oand.pid) cmd[i]=$pidfile ;;
	esac
done
t_eq "${cmd[0]}" "$OAND" "unit: ExecStart runs oand"
"${cmd[@]}" 2>>"$T_DIR/n1.log"
t_eq $? 0 "unit: ExecStart exit status"
pid=$(cat "$pidfile" 2>/dev/null)
[ -n "$pid" ] && T_PIDS+=("$pid")
t_check "unit: PIDFile written when ExecStart returns" [ -n "$pid" ]
t_check "unit: mounted when ExecStart returns" t_is_mounted "$T_DIR/n1.mnt"
t_check "unit: the mount works" cp "$T_DIR/data.bin" "$T_DIR/n1.mnt/unit.bin"
t_check "unit: read back" cmp "$T_DIR/data.bin" "$T_DIR/n1.mnt/unit.bin"
sig=$(key KillSignal)
stop=$(key TimeoutStopSec)
kill -"${sig#SIG}" "$pid"
t_check "unit: $sig stops the node within TimeoutStopSec (${stop}s)" \
	t_wait "${stop:-90}" "node $pid to exit" t_gone "$pid"
t_check "unit: unmounted after $sig" not_mounted "$T_DIR/n1.mnt"
t_check "unit: PIDFile removed" [ ! -e "$pidfile" ]

# make install puts the unit and the helper links where systemd and
# mount(8) look; make uninstall takes everything away again.
root=$T_DIR/root
if make -C "$SRC" --no-print-directory -s -o all install DESTDIR="$root" PREFIX=/usr \
	>"$T_DIR/install.log" 2>&1; then
	t_pass
	u=$root/lib/systemd/system/oand.service
	t_check "installed $u" [ -s "$u" ]
	t_check "installed unit runs /usr/sbin/oand" \
		grep -qx 'ExecStart=/usr/sbin/oand -c ${CONF} -p /run/oand.pid' "$u"
	t_eq "$(readlink "$root/usr/sbin/mount.fuse.oand")" mount.oand "usr/sbin/mount.fuse.oand"
	t_eq "$(readlink "$root/sbin/mount.oand")" /usr/sbin/mount.oand "sbin/mount.oand"
	t_eq "$(readlink "$root/sbin/mount.fuse.oand")" /usr/sbin/mount.oand "sbin/mount.fuse.oand"
	if make -C "$SRC" --no-print-directory -s uninstall DESTDIR="$root" PREFIX=/usr \
		>>"$T_DIR/install.log" 2>&1; then
		t_eq "$(find "$root" ! -type d | wc -l)" 0 "files left by make uninstall"
	else
		t_fail "make uninstall: $(tail -5 "$T_DIR/install.log")"
	fi
else
	t_fail "make install DESTDIR=$root PREFIX=/usr: $(tail -5 "$T_DIR/install.log")"
fi

t_done
