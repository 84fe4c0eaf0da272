#!/usr/bin/env bash
# A rename of a name onto itself never wedges a folder.
#
# The kernel sends such a rename when its cached entry for the name went
# stale between the rename's two lookups: here the name is removed (or
# replaced) through the HTTP API, behind the kernel's back, as a member's
# change is applied.  libfuse's high-level path locking would lock the same
# node twice and wait for itself forever, holding the folder's lock in the
# kernel, so that ls and stat of anything in the folder hang too.
#
# 1. Files and folders, one at a time: the name cached, removed behind the
#    kernel, renamed onto itself (plain and RENAME_NOREPLACE): each returns
#    at once, and the folder still lists.
# 2. The race: one process removes and makes again names through the API
#    while another renames them onto themselves, for a while.  Every
#    rename returns, the folder lists, and `oand status` shows no request
#    in flight and counts the renames answered at once.
. "$(dirname "$0")/lib.sh"
t_init
jqt() { jq -e "$@" >/dev/null; }
for t in curl jq python3; do command -v $t >/dev/null || t_die "$t is needed (make deps)"; done
FSOP="$OAND_TOOLS/fsop"
[ -x "$FSOP" ] || t_die "$FSOP is missing (make integration builds it)"
t_conf a >/dev/null
t_start a || t_die "a did not start"
M=$T_DIR/a.mnt
PORT=$(sed -n 's/.*server-port = \([0-9]*\);.*/\1/p' "$T_DIR/a.conf")
TOK=$("$OAND" -c "$T_DIR/a.conf" token) || t_die "oand token"
api() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$@"; }
# Any call into the mount may hang when a folder is wedged, in a state no
# signal ends: each has a deadline, after which the mount's FUSE
# connection is aborted (so that the test ends, failed, and cleans up).
abort_mount() {
	local dev
	dev=$(awk -v m="$M" '$5 == m {print $3}' /proc/self/mountinfo | tail -1)
	[ -n "$dev" ] || return 0
	[ -d /sys/fs/fuse/connections/"${dev#*:}" ] ||
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
	t_log "a call into the mount hangs: aborting its FUSE connection ($dev)"
	echo 1 > /sys/fs/fuse/connections/"${dev#*:}"/abort
}
in_time() {
	local pid rc
	"$@" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	if kill -0 $pid 2>/dev/null; then
		abort_mount
		wait $pid
		return 124
	fi
	wait $pid
}

mkdir "$M/w" || t_die "mkdir w"
# 1.
for kind in file folder; do
	for flag in 0 noreplace; do
		p=$M/w/$kind-$flag
		if [ $kind = file ]; then echo x > "$p"; else mkdir "$p"; fi
		stat "$p" >/dev/null	# the kernel caches the name
		t_eq "$(api -X DELETE "http://127.0.0.1:$PORT/value/w/$kind-$flag")" 204 \
			"$kind $flag removed behind the kernel"
		in_time "$FSOP" rename "$p" "$p" $flag
		rc=$?
		t_check "rename of a removed $kind onto itself ($flag) returns (rc $rc)" [ $rc -ne 124 ]
		t_check "the folder lists after it ($kind $flag)" in_time ls "$M/w"
		t_check "a name in the folder stats after it ($kind $flag)" in_time stat "$M/w"
	done
done
# A name replaced behind the kernel (another file at it now).
echo old > "$M/w/r"
stat "$M/w/r" >/dev/null
api -X DELETE "http://127.0.0.1:$PORT/value/w/r" >/dev/null
t_eq "$(api -T /etc/hostname "http://127.0.0.1:$PORT/value/w/r")" 201 "w/r made again behind the kernel"
t_check "rename of a replaced file onto itself returns" in_time "$FSOP" rename "$M/w/r" "$M/w/r"
t_check "w/r reads as the new file" in_time cmp "$M/w/r" /etc/hostname

# 2.
cat > "$T_DIR/race.py" <<'EOF'
import os, sys, time
d, kind, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + secs
n = 0
while time.time() < end:
    for i in range(4):
        p = os.path.join(d, "%s%d" % (kind, i))
        try:
            os.stat(p)
            os.rename(p, p)
            n += 1
        except OSError:
            pass
print(n)
EOF
for kind in f d; do
	(
		end=$((SECONDS + 8))
		while [ $SECONDS -lt $end ]; do
			for i in 0 1 2 3; do
				if [ $kind = f ]; then
					api -X DELETE "http://127.0.0.1:$PORT/value/w/$kind$i" >/dev/null
					api -T /etc/hostname "http://127.0.0.1:$PORT/value/w/$kind$i" >/dev/null
				else
					api -X DELETE "http://127.0.0.1:$PORT/value/w/$kind$i" >/dev/null
					api -X POST "http://127.0.0.1:$PORT/value/w/$kind$i?mkdir" >/dev/null
				fi
			done
		done
	) &
	changer=$!
	python3 "$T_DIR/race.py" "$M/w" $kind 8 > "$T_DIR/renames" 2>&1 &
	renamer=$!
	t_wait 30 "the renamer of ${kind}s to end" t_gone $renamer || abort_mount
	wait $renamer
	rc=$?
	wait $changer
	t_check "the renamer of ${kind}s ended in time (rc $rc, $(cat "$T_DIR/renames") renames)" [ $rc -eq 0 ]
	t_check "the folder lists after the race of ${kind}s" in_time ls "$M/w"
done
timeout -s KILL 15 "$OAND" -c "$T_DIR/a.conf" status --json > "$T_DIR/status" 2>&1
t_check "status shows no request in flight ($(jq -c .fuse "$T_DIR/status" 2>&1))" \
	jqt '.fuse.in_flight == 0 and .fuse.stuck == 0' "$T_DIR/status"
t_check "status counts the renames answered at once" jqt '.fuse.self_renames >= 5' "$T_DIR/status"
t_check "status says so in text" sh -c "'$OAND' -c '$T_DIR/a.conf' status | grep -q '^requests: *none in flight'"
t_check "a unmounts" t_stop a
t_done
