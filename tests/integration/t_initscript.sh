#!/usr/bin/env bash
# etc/init.d/oand drives a real node (start, stop, restart, status with the
# LSB exit codes), run with plain sh; `make install` puts every file where
# it belongs, with @SBINDIR@ substituted in the init script.
. "$(dirname "$0")/lib.sh"
t_init

SRC=$(cd "$(dirname "$0")/../.." && pwd)
INIT="$SRC/etc/init.d/oand"
conf=$(t_conf n1)
mnt=$T_DIR/n1.mnt
# The environment overrides /etc/default/oand, so whatever this machine has
# there does not matter.
export DAEMON="$OAND" CONF="$conf" PIDFILE="$T_DIR/run/oand.pid" STOP_TIMEOUT=30

# Number of live nodes started with this configuration and pid file.
nodes() {
	local n=0 p
	for p in $(pgrep -f -x -- "$1 -c $conf -p $PIDFILE"); do
		t_gone "$p" || n=$((n + 1))
	done
	echo $n
}
initd() { sh "$INIT" "$@" >"$T_DIR/out" 2>"$T_DIR/err"; }
# One node at a time here: the cleanup need not signal pids long gone.
# (Never this shell, which the stale pid file test writes there.)
remember_pid() {
	local p
	p=$(cat "$PIDFILE" 2>/dev/null)
	[ -n "$p" ] && [ "$p" != $$ ] && T_PIDS=("$p")
}

t_check "the init script is plain sh" sh -n "$INIT"
t_check "LSB header" grep -q '^### BEGIN INIT INFO' "$INIT"

initd status
t_eq $? 3 "status before the first start"

# start
initd start
t_eq $? 0 "start"
remember_pid
pid=$(cat "$PIDFILE" 2>/dev/null)
t_check "start: pid file written" [ -n "$pid" ]
t_check "start: mounted when start returns" t_is_mounted "$mnt"
t_check "start: the mount works" sh -c "echo hello > '$mnt/a' && [ \"\$(cat '$mnt/a')\" = hello ]"
initd status
t_eq $? 0 "status while running"
t_check "status says running" grep -q "is running (pid $pid)" "$T_DIR/out"

# start again: nothing new
initd start
t_eq $? 0 "second start"
t_check "second start says already running" grep -q "already running" "$T_DIR/out"
t_eq "$(cat "$PIDFILE")" "$pid" "pid after the second start"
t_eq "$(nodes "$OAND")" 1 "nodes after the second start"

# stop
initd stop
t_eq $? 0 "stop"
t_check "stop: process gone when stop returns" t_gone "$pid"
t_check "stop: unmounted when stop returns" sh -c "! awk -v m='$mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
t_check "stop: pid file removed" [ ! -e "$PIDFILE" ]
initd stop
t_eq $? 0 "stop when stopped"
initd status
t_eq $? 3 "status when stopped"
t_check "status says not running" grep -q "not running" "$T_DIR/out"

# restart from stopped, then while running
initd restart
t_eq $? 0 "restart when stopped"
remember_pid
pid1=$(cat "$PIDFILE" 2>/dev/null)
t_check "restart (stopped): mounted" t_is_mounted "$mnt"
t_eq "$(cat "$mnt/a" 2>/dev/null)" hello "content after restart"
initd restart
t_eq $? 0 "restart when running"
remember_pid
pid2=$(cat "$PIDFILE" 2>/dev/null)
t_check "restart: a new process" [ -n "$pid2" -a "$pid2" != "$pid1" ]
t_check "restart: the old one is gone" t_gone "$pid1"
t_check "restart: mounted" t_is_mounted "$mnt"
t_eq "$(nodes "$OAND")" 1 "nodes after restart"
initd force-reload
t_eq $? 0 "force-reload"
remember_pid
pid3=$(cat "$PIDFILE" 2>/dev/null)
t_check "force-reload: a new process" [ -n "$pid3" -a "$pid3" != "$pid2" ]
t_check "force-reload: mounted" t_is_mounted "$mnt"
initd stop
t_eq $? 0 "stop after force-reload"
t_check "stop: process gone" t_gone "$pid3"
t_check "stop: unmounted" sh -c "! awk -v m='$mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"

# A pid file naming a live process that is not oand (this shell) does not
# count as running, and start replaces it.
mkdir -p "$(dirname "$PIDFILE")"
echo $$ > "$PIDFILE"
initd status
t_eq $? 1 "status with a stale pid file"
initd stop
t_eq $? 0 "stop with a stale pid file"
t_check "this shell survived stop" kill -0 $$
echo $$ > "$PIDFILE"
initd start
t_eq $? 0 "start over a stale pid file"
remember_pid
pid=$(cat "$PIDFILE" 2>/dev/null)
t_check "start over a stale pid file: a node" [ -n "$pid" -a "$pid" != $$ ]
t_check "start over a stale pid file: mounted" t_is_mounted "$mnt"
initd stop
t_eq $? 0 "stop (stale pid file case)"
t_check "node gone" t_gone "$pid"

# Errors: a broken configuration (LSB 6, nothing mounted), a missing
# daemon (LSB 5), an unknown action (2).
bad="$T_DIR/bad.conf"
printf 'oand = { data-dir = "%s"; colour = "blue"; };\noan = { mount-point = "%s"; };\n' \
	"$T_DIR/bad.data" "$mnt" > "$bad"
CONF=$bad initd start
t_eq $? 6 "start with a broken configuration"
t_check "broken configuration: message names the key" grep -q "oand.colour" "$T_DIR/err"
t_check "broken configuration: nothing mounted" sh -c "! awk -v m='$mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
t_check "broken configuration: no data dir" [ ! -e "$T_DIR/bad.data" ]
CONF=$T_DIR/none.conf initd start
t_eq $? 6 "start with a missing configuration"
DAEMON=$T_DIR/no-such-oand initd start
t_eq $? 5 "start with a missing daemon"
initd frobnicate
t_eq $? 2 "unknown action"

# Not installed (no @SBINDIR@ substitution) and no DAEMON: oand from PATH.
if [ -e /etc/default/oand ]; then
	t_log "skipping the PATH fallback: /etc/default/oand may set DAEMON"
else
	(unset DAEMON; PATH="$(dirname "$OAND"):$PATH" initd start)
	t_eq $? 0 "start with oand from PATH"
	remember_pid
	pid=$(cat "$PIDFILE" 2>/dev/null)
	t_check "PATH fallback: mounted" t_is_mounted "$mnt"
	t_eq "$(nodes oand)" 1 "PATH fallback: the node runs 'oand'"
	(unset DAEMON; PATH="$(dirname "$OAND"):$PATH" initd status)
	t_eq $? 0 "status with oand from PATH"
	(unset DAEMON; PATH="$(dirname "$OAND"):$PATH" initd stop)
	t_eq $? 0 "stop with oand from PATH"
	t_check "PATH fallback: node gone" t_gone "$pid"
fi

# make install
root=$T_DIR/root
# -o all: install the binaries under test, never rebuild them here.
if make -C "$SRC" --no-print-directory -s -o all install DESTDIR="$root" PREFIX=/usr \
	>"$T_DIR/install.log" 2>&1; then
	t_pass
	for f in usr/sbin/oand usr/sbin/mount.oand etc/init.d/oand; do
		t_check "installed executable $f" [ -f "$root/$f" -a -x "$root/$f" ]
	done
	for f in usr/share/man/man8/oand.8 usr/share/man/man8/mount.oand.8 \
		usr/share/man/man5/oand.conf.5 etc/oand.conf.example \
		usr/share/doc/oand/oand.conf.example; do
		t_check "installed $f" [ -s "$root/$f" ]
	done
	t_check "init script: @SBINDIR@ substituted" \
		sh -c "! grep -q '@SBINDIR@' '$root/etc/init.d/oand'"
	t_check "init script: runs /usr/sbin/oand" \
		grep -qx 'DAEMON=/usr/sbin/oand' "$root/etc/init.d/oand"
	t_check "installed init script is plain sh" sh -n "$root/etc/init.d/oand"
	"$root/usr/sbin/oand" -c "$root/etc/oand.conf.example" status >/dev/null 2>&1
	t_check "installed example config parses" [ $? -ne 2 ]
else
	t_fail "make install DESTDIR=$root PREFIX=/usr: $(tail -5 "$T_DIR/install.log")"
fi

t_done
