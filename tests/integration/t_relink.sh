#!/usr/bin/env bash
# A restarted member relinks within a bound, whatever happened before.
#
# Two nodes (T_NODES=3: three) with the default heartbeat of 10 s.  A
# member is restarted many times in quick succession (each start waits
# only until the node answers, then it is stopped), which leaves one dead
# DHT key per run among the other's onion path nodes; once it stays up,
# both list each other online within the bound and a file made on each is
# seen on the other.  Done T_ROUNDS rounds in a row.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
NS=rlk$$
t_netns "$NS"
ROUNDS=${T_ROUNDS:-2}
QUICK=${T_QUICK:-20}
# A link takes about 10 s to come up; a relink must not take much longer.
BOUND=${T_BOUND:-40}
key=$("$OAND" genkey)
common="heartbeat-interval = ${T_HB:-10}; server-domain-name = \"127.0.0.1\";"
bff='bff-domain-name = "127.0.0.1"; bff-port = 18180;'
t_node_conf a 33601 18180 "$key" "$common" >/dev/null
t_node_conf c 33603 18182 "$key" "$common" "$bff" >/dev/null
NAMES="a c"
if [ "${T_NODES:-2}" = 3 ]; then
	t_node_conf b 33602 18181 "$key" "$common" "$bff" >/dev/null
	NAMES="a b c"
fi
N=$(wc -w <<<"$NAMES")
[ -n "${T_LOG:-}" ] && sed -i "s/log-level = \"info\"/log-level = \"$T_LOG\"/" "$T_DIR"/*.conf
for n in $NAMES; do t_start_ns "$NS" $n || t_die "node $n did not start (see $T_DIR/$n.log)"; done
for n in $NAMES; do
	t_check "$n lists all online" t_wait 90 "$n to list $N online" t_all_online $n $N
done

# put NODE NAME: NAME made on NODE (HTTP API) with NAME as its content.
put() {
	local port
	port=$(sed -n 's/.*server-port = \([0-9]*\);.*/\1/p' "$T_DIR/$1.conf")
	printf '%s' "$2" | ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 10 -T - \
		-H "Authorization: Bearer $(cat "$T_DIR/$1.data/api.token")" "http://127.0.0.1:$port/value/$2" |
		grep -qE '^20[01]$'
}
# has NODE NAME: NODE's tree holds NAME with NAME as its content.
has() {
	local port
	port=$(sed -n 's/.*server-port = \([0-9]*\);.*/\1/p' "$T_DIR/$1.conf")
	[ "$(ip netns exec "$NS" curl -s --max-time 5 \
		-H "Authorization: Bearer $(cat "$T_DIR/$1.data/api.token")" \
		"http://127.0.0.1:$port/value/$2")" = "$2" ]
}
linked() {
	local n
	for n in $NAMES; do t_all_online $n $N || return 1; done
}

for r in $(seq 1 "$ROUNDS"); do
	for i in $(seq 1 "$QUICK"); do
		pid=$(cat "$T_DIR/c.pid")
		kill -TERM "$pid"
		t_wait 30 "c to exit" t_gone "$pid" || t_die "round $r: c does not stop"
		t_start_ns "$NS" c >/dev/null || t_die "round $r, start $i: c did not start (see $T_DIR/c.log)"
	done
	t0=$(date +%s)
	t_log "round $r: $QUICK quick restarts of c done; c stays up"
	if t_wait "$BOUND" "all to list each other online" linked; then
		t_pass
	else
		t_fail "round $r: not relinked within $BOUND s"
		for n in $NAMES; do t_log "$n: $(t_nodes $n | jq -c '[.nodes[] | [.name, .state, .direct]]')"; done
	fi
	t_log "round $r: relinked after $(( $(date +%s) - t0 )) s"
	t_check "round $r: a file made on c" put c "from-c-$r"
	t_check "round $r: a file made on a" put a "from-a-$r"
	t_check "round $r: a sees c's file" t_wait 30 "a to see from-c-$r" has a "from-c-$r"
	t_check "round $r: c sees a's file" t_wait 30 "c to see from-a-$r" has c "from-a-$r"
	[ $N = 3 ] && t_check "round $r: b sees c's file" t_wait 30 "b to see from-c-$r" has b "from-c-$r"
	t_log "round $r: files seen after $(( $(date +%s) - t0 )) s"
done
# Single clean restarts, of either node, as a user makes them.
for i in $(seq 1 "${T_SINGLE:-2}"); do
	for n in c a; do
		pid=$(cat "$T_DIR/$n.pid")
		kill -TERM "$pid"
		t_wait 30 "$n to exit" t_gone "$pid" || t_die "$n does not stop"
		t_start_ns "$NS" $n >/dev/null || t_die "$n did not start again (see $T_DIR/$n.log)"
		t0=$(date +%s)
		t_check "restart $i of $n: relinked within $BOUND s" t_wait "$BOUND" "all to list each other online" linked
		t_log "restart $i of $n: relinked after $(( $(date +%s) - t0 )) s"
	done
done
t_done
