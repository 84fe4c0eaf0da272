#!/usr/bin/env bash
# Unmount and mount again at once, 50 times in a row, on a node that is a
# member of a two-node cluster: the unmount returns before the old node
# has closed its database and released the data dir's lock, and every new
# start waits for it (lock-wait) instead of failing.  A start against a
# node that keeps running is refused at once with a clear error.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
NS=rlr$$
t_netns "$NS"
CYCLES=${T_CYCLES:-50}
key=$("$OAND" genkey)
common='heartbeat-interval = 2; server-domain-name = "127.0.0.1";'
t_node_conf a 33601 18180 "$key" "$common" >/dev/null
t_node_conf b 33602 18181 "$key" "$common" 'bff-domain-name = "127.0.0.1"; bff-port = 18180;' >/dev/null
M=$T_DIR/b.mnt
mkdir -p "$M"
echo "oan = { mount-point = \"$M\"; };" >> "$T_DIR/b.conf"
t_start_ns "$NS" a || t_die "node a did not start (see $T_DIR/a.log)"

# mount_b: mount.oand, as mount(8) runs it, with b's network in NS.
mount_b() {
	nsenter --net="/run/netns/$NS" "$MOUNT_OAND" "$T_DIR/b.conf" "$M" 2>>"$T_DIR/b.log"
}
# a_has NAME CONTENT: a's tree holds /NAME with CONTENT (its HTTP API).
a_has() {
	[ "$(ip netns exec "$NS" curl -s --max-time 5 -H "Authorization: Bearer $(cat "$T_DIR/a.data/api.token")" \
		"http://127.0.0.1:18180/value/$1")" = "$1" ]
}
# b_pid: the pid of the node serving b (from its status).
b_pid() { "$OAND" -c "$T_DIR/b.conf" status --json 2>/dev/null | jq -r .pid; }
mount_b || t_die "b did not mount (see $T_DIR/b.log)"
T_PIDS+=("$(b_pid)")
t_check "b lists a online" t_wait 90 "b to list 2 online" t_all_online b 2
t_check "a lists b online" t_wait 90 "a to list 2 online" t_all_online a 2
echo before > "$M/before" || t_fail "write through b's mount"

# 1. Unmount, mount at once: never refused.
refused=0
for i in $(seq 1 "$CYCLES"); do
	fusermount3 -u "$M" || { t_fail "cycle $i: unmount"; break; }
	if mount_b; then
		T_PIDS+=("$(b_pid)")
	else
		refused=$((refused + 1))
		t_log "cycle $i: the mount was refused"
		t_wait 30 "b's old node to release its lock" flock -n "$T_DIR/b.data/lock" true
		mount_b || t_die "cycle $i: b does not mount at all (see $T_DIR/b.log)"
		T_PIDS+=("$(b_pid)")
	fi
done
t_eq "$refused" 0 "mounts refused in $CYCLES unmount/mount cycles"
waits=$(grep -c "waiting up to" "$T_DIR/b.log")
t_log "$waits of $CYCLES starts waited for the previous node; waits (ms):" \
	"$(grep -o 'exited after [0-9]* ms' "$T_DIR/b.log" | awk '{print $3}' | sort -n | tr '\n' ' ')"
t_check "the mount works after the cycles" grep -qx before "$M/before"
t_check "b is linked to a again" t_wait 90 "b to list 2 online" t_all_online b 2
echo after > "$M/after" || t_fail "write after the cycles"
t_check "a sees b's new file" t_wait 60 "a to see /after" a_has after

# 2. A second node on b's data dir while b keeps running (mounted): it
#    is refused at once, naming the holder, however long lock-wait is.
pid=$(b_pid)
sed -e "s|$M|$T_DIR/b2.mnt|" -e 's|^oand = {|oand = { lock-wait = 30;|' "$T_DIR/b.conf" > "$T_DIR/b2.conf"
mkdir -p "$T_DIR/b2.mnt"
t0=$(date +%s%N)
timeout 60 nsenter --net="/run/netns/$NS" "$OAND" -c "$T_DIR/b2.conf" 2>"$T_DIR/b2.err"
rc=$?
took=$(( ($(date +%s%N) - t0) / 1000000 ))
t_eq "$rc" 1 "a second node on b's data dir: exit status"
t_check "it did not wait for the running node ($took ms)" test "$took" -lt 10000
t_check "it said who runs there: $(cat "$T_DIR/b2.err")" \
	grep -q "another oand (pid $pid) is already running on $T_DIR/b.data" "$T_DIR/b2.err"
t_check "it did not wait: $(cat "$T_DIR/b2.err")" sh -c "! grep -q 'waiting up to' '$T_DIR/b2.err'"
t_check "the second node did not mount" sh -c "! awk -v m='$T_DIR/b2.mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
t_check "b still runs and serves its mount" grep -qx after "$M/after"
t_eq "$(b_pid)" "$pid" "b's node is the same"

fusermount3 -u "$M" || t_fail "last unmount"
t_done
