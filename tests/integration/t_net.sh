#!/usr/bin/env bash
# A node with a cluster key runs Tox; a node without one opens no socket.
# Tox binds every address, so the cluster node runs inside a network
# namespace made (and removed) by this test, with only its loopback.
. "$(dirname "$0")/lib.sh"
t_init
NS=oand-t$$
ns_cleanup() {
	local rc=$?
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	t_cleanup
	return $rc
}
trap ns_cleanup EXIT
command -v ip >/dev/null || t_die "ip (iproute2) is needed"
ip netns add "$NS" || t_die "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up || t_die "cannot bring up loopback in $NS"

node_json() { "$OAND" -c "$1" status --json 2>/dev/null; }
json_field() { sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" <<<"$1"; }

# Standalone: no cluster key, no Tox; its HTTP service serves the tree
# but has no bootstrap answer to give.
conf=$T_DIR/solo.conf
solo_port=$(t_free_port)
printf 'oand = { data-dir = "%s/solo.data"; tox-port = 33999; server-port = %s; };\n' "$T_DIR" "$solo_port" > "$conf"
"$OAND" -c "$conf" -p "$T_DIR/solo.pid" 2>>"$T_DIR/solo.log" || t_die "standalone node did not start"
T_PIDS+=("$(cat "$T_DIR/solo.pid")")
js=$(node_json "$conf")
t_check "standalone: status says tox null ($js)" grep -q '"tox":null' <<<"$js"
t_check "standalone: no UDP socket on 33999" sh -c "! ss -uln | grep -q ':33999 '"
t_check "standalone: HTTP on its server-port" sh -c "ss -tln | grep -q ':$solo_port '"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$solo_port/v1/bootstrap")" 404 \
	"standalone: no bootstrap answer"
t_eq "$(curl -s -H "Authorization: Bearer $(cat "$T_DIR/solo.data/api.token")" "http://127.0.0.1:$solo_port/value/" |
	jq -c .entries)" "[]" "standalone: its tree over HTTP, with its token"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$solo_port/value/")" 401 \
	"standalone: its tree over HTTP needs the token"
solo_pid=$(cat "$T_DIR/solo.pid")
kill -TERM "$solo_pid"
t_check "standalone node stops" t_wait 20 "standalone node to stop" t_gone "$solo_pid"

# A member: Tox up, same identity as oand id, on the configured port.
conf=$T_DIR/member.conf
key=$("$OAND" genkey)
t_check "genkey prints 64 hex digits" grep -Eqx '[0-9a-f]{64}' <<<"$key"
printf 'oand = { data-dir = "%s/member.data"; tox-port = 33601; server-port = 18180;\n  cluster-key = "%s"; };\n' \
	"$T_DIR" "$key" > "$conf"
id=$("$OAND" -c "$conf" id 2>/dev/null)
t_check "oand id prints a Tox ID" grep -Eqx '[0-9A-F]{76}' <<<"$id"
t_eq "$("$OAND" -c "$conf" id 2>/dev/null)" "$id" "oand id is stable"
ip netns exec "$NS" "$OAND" -c "$conf" -p "$T_DIR/member.pid" 2>>"$T_DIR/member.log" ||
	t_die "member node did not start (see $T_DIR/member.log)"
pid=$(cat "$T_DIR/member.pid")
T_PIDS+=("$pid")
js=$(node_json "$conf")
t_eq "$(json_field "$js" id | tail -1)" "$id" "status shows the Tox ID of oand id"
t_eq "$(json_field "$js" udp_port)" 33601 "Tox is on the configured UDP port"
t_check "the port is bound inside the namespace" sh -c "ip netns exec $NS ss -uln | grep -q ':33601 '"
t_check "nothing bound outside the namespace" sh -c "! ss -uln | grep -q ':33601 '"
t_check "status text names the network" sh -c "'$OAND' -c '$conf' status | grep -q 'Tox $id on UDP port 33601'"

# Admission: B joins A (its BFF) with the cluster key and both end up
# proven members of each other; C, with another key, is refused by A.
json_num() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }
dht=$(json_field "$js" dht_key)
t_check "status shows A's DHT key" grep -Eqx '[0-9A-F]{64}|[0-9a-f]{64}' <<<"$dht"
# A member answers GET /v1/bootstrap (the seed's BFF query) inside the namespace.
boot=$(ip netns exec "$NS" curl -s --max-time 5 http://127.0.0.1:18180/v1/bootstrap)
t_eq "$(json_field "$boot" tox_id)" "$id" "/v1/bootstrap gives A's Tox ID"
t_eq "$(json_field "$boot" udp_port)" 33601 "/v1/bootstrap gives A's UDP port"
t_eq "$(ip netns exec "$NS" curl -s --max-time 5 http://127.0.0.1:18180/)" "{}" "GET / answers {}"
t_eq "$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	-H "Authorization: Bearer $(cat "$T_DIR/member.data/api.token")" http://127.0.0.1:18180/nope)" \
	404 "an unknown path is 404"
# B joins with nothing but the BFF's address and port (its HTTP service);
# C is pinned to A's Tox ID and bootstraps from a DHT node line.
mkconf() { # NAME TOXPORT KEY HOW
	{
		printf 'oand = { data-dir = "%s/%s.data"; server-name = "%s"; tox-port = %s;\n' \
			"$T_DIR" "$1" "$1" "$2"
		printf '  server-port = %s; cluster-key = "%s";\n' "$(( $2 - 33601 + 18180 ))" "$3"
		if [ "$4" = http ]; then
			printf '  bff-domain-name = "127.0.0.1"; bff-port = 18180; };\n'
		else
			printf '  bff-tox-id = "%s"; bootstrap-nodes = [ "127.0.0.1:33601:%s" ]; };\n' "$id" "$dht"
		fi
	} > "$T_DIR/$1.conf"
}
start_in_ns() {
	ip netns exec "$NS" "$OAND" -c "$T_DIR/$1.conf" -p "$T_DIR/$1.pid" 2>>"$T_DIR/$1.log" ||
		t_die "node $1 did not start (see $T_DIR/$1.log)"
	T_PIDS+=("$(cat "$T_DIR/$1.pid")")
}
members_of() { node_json "$1" | jq -r '.tox.members // empty'; }
members_are() { [ "$(members_of "$1")" = "$2" ]; }
mkconf b 33602 "$key" http
start_in_ns b
t_check "B and A: B sees A as a proven member" t_wait 90 "B to see A" members_are "$T_DIR/b.conf" 1
t_check "A sees B as a proven member" t_wait 30 "A to see B" members_are "$conf" 1
mkconf c 33603 "$("$OAND" genkey)" dht
start_in_ns c
refused_by_a() { [ "$(json_num "$(node_json "$conf")" refused)" -ge 1 ]; }
t_check "A refuses C, whose key differs" t_wait 90 "A to refuse C" refused_by_a
t_eq "$(members_of "$T_DIR/c.conf")" 0 "C has no member"
t_eq "$(members_of "$conf")" 1 "A still has one member (B)"

# The net thread keeps iterating and stops on request.
kill -TERM "$pid"
t_check "member node stops" t_wait 20 "member node to stop" t_gone "$pid"
t_check "the port is free again" sh -c "! ip netns exec $NS ss -uln | grep -q ':33601 '"
t_done
