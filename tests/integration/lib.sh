# Shared helpers for the integration tests.  Source it, then call t_init.
#
# Every test runs the real binaries ($OAND_BIN/oand, $OAND_BIN/mount.oand)
# on real FUSE mounts under a private temporary folder.  Whatever happens,
# the EXIT trap unmounts every mount under that folder and kills every
# process the test started, so a failing test leaves nothing behind.
# Waits are for a state with a deadline (t_wait), never a fixed sleep.

set -u
OAND_BIN=${OAND_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OAND="$OAND_BIN/oand"
MOUNT_OAND="$OAND_BIN/mount.oand"
T_NAME=$(basename "$0" .sh)
T_DIR=
T_PIDS=()
T_NETNS=()
T_FAILED=0
T_CHECKS=0

T_FAILS=()
t_log() { printf '[%s] %s\n' "$T_NAME" "$*" >&2; }

# Unmount everything below T_DIR (deepest first), kill what we started.
t_cleanup() {
	local rc=$? m pid ns
	[ -n "$T_DIR" ] || return $rc
	for pid in "${T_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for m in $(awk -v d="$T_DIR" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r); do
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for pid in "${T_PIDS[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$pid" 2>/dev/null
	done
	for ns in "${T_NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	# A failed run leaves its nodes' last words in the output (CI keeps
	# nothing else).
	if [ $rc -ne 0 ]; then
		local f
		for f in "$T_DIR"/*.log; do
			[ -f "$f" ] || continue
			t_log "--- last lines of $(basename "$f"):"
			tail -n 40 "$f" | cut -c1-240 | sed 's/^/    /' >&2
		done
		# Again after the logs, where a short tail of the output shows it.
		for f in "${T_FAILS[@]}"; do t_log "failed: $f"; done
	fi
	if [ "${T_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ "${T_KEEP_FAILED:-0}" = 1 ]; }; then
		t_log "kept $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
	return $rc
}

t_init() {
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oand-$T_NAME.XXXXXX")
	trap t_cleanup EXIT
	trap 'exit 130' INT TERM
	[ -x "$OAND" ] && [ -x "$MOUNT_OAND" ] || { t_log "binaries not built in $OAND_BIN"; exit 1; }
	[ -c /dev/fuse ] || { t_log "/dev/fuse is missing: FUSE tests cannot run"; exit 1; }
}

t_fail() { t_log "FAIL: $*"; T_FAILS+=("$*"); T_FAILED=$((T_FAILED + 1)); }
t_pass() { T_CHECKS=$((T_CHECKS + 1)); }
# t_check DESC CMD...: run CMD, count a failure if it fails.
t_check() {
	local desc=$1; shift
	if "$@"; then t_pass; else t_fail "$desc"; fi
}
t_eq() {
	if [ "$1" = "$2" ]; then t_pass; else t_fail "$3: expected '$2', got '$1'"; fi
}
# t_refused DESC REGEX CMD...: CMD must fail with a message matching REGEX
# (extended regular expression).
t_refused() {
	local desc=$1 re=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		t_fail "$desc: succeeded, expected an error matching '$re'"
	elif grep -Eq -- "$re" <<<"$out"; then
		t_pass
	else
		t_fail "$desc: expected an error matching '$re', got '$out'"
	fi
}
# t_gone PID: no such process, or a zombie waiting to be reaped.
t_gone() {
	local state
	kill -0 "$1" 2>/dev/null || return 0
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}
# t_die: a failure after which the test cannot go on.
t_die() { t_log "FAIL: $*"; T_FAILS+=("$*"); exit 1; }

# t_wait TIMEOUT_S DESC CMD...: poll CMD until it succeeds or time runs out.
t_wait() {
	local timeout=$1 desc=$2; shift 2
	local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
	until "$@" 2>/dev/null; do
		if [ "$(date +%s%N)" -ge $deadline ]; then
			t_log "timed out after ${timeout}s waiting for: $desc"
			return 1
		fi
		sleep 0.05
	done
}

# t_free_port: a TCP port free on loopback just now.
t_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# t_conf NAME [extra oand-group lines] : writes $T_DIR/NAME.conf for data
# $T_DIR/NAME.data and mount point $T_DIR/NAME.mnt; prints the conf path.
t_conf() {
	local name=$1; shift
	local conf="$T_DIR/$name.conf"
	mkdir -p "$T_DIR/$name.mnt"
	{
		echo "oand = {"
		echo "  server-name = \"$name\";"
		echo "  data-dir = \"$T_DIR/$name.data\";"
		echo "  log-level = \"info\";"
		for l in "$@"; do echo "  $l"; done
		# Every node serves HTTP: one port each unless the test chose.
		case "$*" in *server-port*) ;; *) echo "  server-port = $(t_free_port);" ;; esac
		echo "};"
		echo "oan = { mount-point = \"$T_DIR/$name.mnt\"; };"
	} > "$conf"
	echo "$conf"
}

t_is_mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }

# t_start NAME: start the node of NAME.conf as a daemon (it mounts
# NAME.mnt before returning), remember its pid.  Logs go to NAME.log.
t_start() {
	local name=$1 conf="$T_DIR/$1.conf" pidf="$T_DIR/$1.pid"
	"$OAND" -c "$conf" -p "$pidf" 2>>"$T_DIR/$name.log" || return 1
	T_PIDS+=("$(cat "$pidf")")
	t_is_mounted "$T_DIR/$name.mnt"
}

# t_start_fg NAME: like t_start, but the node stays in the foreground
# (-f) in the background of the test, so everything it logs lands in
# NAME.log.
t_start_fg() {
	local name=$1
	"$OAND" -c "$T_DIR/$name.conf" -f -p "$T_DIR/$name.pid" >>"$T_DIR/$name.log" 2>&1 &
	T_PIDS+=("$!")
	t_wait 20 "$name to mount" t_is_mounted "$T_DIR/$name.mnt"
}

# t_stop NAME: unmount NAME.mnt and wait until its node has exited.
t_stop() {
	local name=$1 pid
	pid=$(cat "$T_DIR/$name.pid" 2>/dev/null) || return 1
	fusermount3 -u "$T_DIR/$name.mnt" || return 1
	t_wait 60 "node $name to exit" sh -c "! kill -0 $pid" || return 1
}

# t_kill9 NAME: kill the node without warning and clear its stale mount.
t_kill9() {
	local name=$1 pid
	pid=$(cat "$T_DIR/$name.pid" 2>/dev/null) || return 1
	kill -KILL "$pid"
	t_wait 10 "node $name to die" sh -c "! kill -0 $pid"
	fusermount3 -u -z "$T_DIR/$name.mnt" 2>/dev/null || umount -l "$T_DIR/$name.mnt" 2>/dev/null
	t_wait 10 "mount $name to go" sh -c "! awk -v m='$T_DIR/$name.mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
}

# t_done: print the result line and exit with the right status.
t_done() {
	if [ "$T_FAILED" -gt 0 ]; then
		t_log "$T_FAILED check(s) failed, $T_CHECKS passed"
		exit 1
	fi
	t_log "all $T_CHECKS checks passed"
	exit 0
}

# Helper programs built from tests/tools/*.c (make integration builds them).
OAND_TOOLS=${OAND_TOOLS:-$OAND_BIN/build/obj/tests/tools}

# t_netns NAME: a network namespace with its loopback up, removed (with
# every process in it) when the test ends.  Tox binds every address, so
# each test's nodes live in namespaces of their own.
t_netns() {
	command -v ip >/dev/null || t_die "ip (iproute2) is needed"
	ip netns add "$1" || t_die "cannot create network namespace $1"
	T_NETNS+=("$1")
	ip -n "$1" link set lo up || t_die "cannot bring up loopback in $1"
}

# t_bridged P NET NAME...: namespace P-br with a bridge, and for each NAME
# a namespace P-NAME whose eth0 (NET.1, NET.2, ... in order) is a veth
# linked to the bridge.  Link names stay short: P should be ~4 chars.
t_bridged() {
	local p=$1 net=$2 n i=0; shift 2
	t_netns "$p-br"
	ip -n "$p-br" link add br0 type bridge || t_die "cannot create a bridge"
	ip -n "$p-br" link set br0 up
	for n in "$@"; do
		i=$((i + 1))
		t_netns "$p-$n"
		ip link add "$p$n" type veth peer name "$p$n-br" || t_die "cannot create veth"
		ip link set "$p$n" netns "$p-$n"
		ip link set "$p$n-br" netns "$p-br"
		ip -n "$p-$n" link set "$p$n" name eth0
		ip -n "$p-$n" addr add "$net.$i/24" dev eth0
		ip -n "$p-$n" link set eth0 up
		ip -n "$p-br" link set "$p$n-br" master br0
		ip -n "$p-br" link set "$p$n-br" up
	done
}

# t_start_mounted_ns NS NAME: start NAME (a t_conf node, with a mount) with
# its network in namespace NS but in this mount namespace, so that its
# mount is seen here; in the foreground, logging to NAME.log.
t_start_mounted_ns() {
	local ns=$1 name=$2
	rm -f "$T_DIR/$name.pid"
	nsenter --net="/run/netns/$ns" "$OAND" -c "$T_DIR/$name.conf" -f -p "$T_DIR/$name.pid" \
		</dev/null >>"$T_DIR/$name.log" 2>&1 &
	T_PIDS+=("$!")
	t_wait 20 "$name to mount" t_is_mounted "$T_DIR/$name.mnt"
}

# t_node_conf NAME TOXPORT HTTPPORT KEY [extra lines]: a cluster node
# without a mount, data in $T_DIR/NAME.data; prints the conf path.
t_node_conf() {
	local name=$1 tox=$2 http=$3 key=$4; shift 4
	{
		echo "oand = {"
		echo "  server-name = \"$name\";"
		echo "  data-dir = \"$T_DIR/$name.data\";"
		echo "  log-level = \"info\";"
		echo "  tox-port = $tox; server-port = $http;"
		echo "  cluster-key = \"$key\";"
		for l in "$@"; do echo "  $l"; done
		echo "};"
	} > "$T_DIR/$name.conf"
	echo "$T_DIR/$name.conf"
}

# t_start_ns NS NAME: start NAME's node inside namespace NS.
# The node runs in the foreground, so that everything it logs (at the
# configured log-level) lands in NAME.log, not in a syslog the test
# machine may not have; ready once it answers on its control socket.
t_start_ns() {
	local ns=$1 name=$2 pid
	rm -f "$T_DIR/$name.pid"
	ip netns exec "$ns" "$OAND" -c "$T_DIR/$name.conf" -f -p "$T_DIR/$name.pid" \
		</dev/null >>"$T_DIR/$name.log" 2>&1 &
	pid=$!
	disown "$pid"
	T_PIDS+=("$pid")
	t_wait 30 "node $name to answer" t_answers "$name" "$pid"
}
# t_answers NAME PID: the node runs, has written its pid file and answers.
t_answers() {
	! t_gone "$2" && [ "$(cat "$T_DIR/$1.pid" 2>/dev/null)" = "$2" ] &&
		"$OAND" -c "$T_DIR/$1.conf" status --json >/dev/null 2>&1
}

# t_nodes NAME: NAME's node list as JSON (empty when it does not answer).
t_nodes() { "$OAND" -c "$T_DIR/$1.conf" nodes --json 2>/dev/null; }
# t_state NAME OF: the state NAME's node gives the node named OF ("" if none).
t_state() { t_nodes "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .state' 2>/dev/null; }
# t_all_online NAME COUNT: NAME lists exactly COUNT nodes, all online.
t_all_online() {
	[ "$(t_nodes "$1" | jq '[.nodes[] | select(.state == "online")] | length' 2>/dev/null)" = "$2" ] &&
		[ "$(t_nodes "$1" | jq '.nodes | length' 2>/dev/null)" = "$2" ]
}
# t_status_num NAME FIELD: a number from NAME's `oand status --json` .tox.
t_status_num() { "$OAND" -c "$T_DIR/$1.conf" status --json 2>/dev/null | jq -r ".tox.$2"; }
