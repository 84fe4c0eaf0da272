#!/usr/bin/env bash
# Nodes in separate network namespaces, joined by a bridge: each node has
# its own network stack and address, and all Tox and HTTP traffic crosses
# veth links and the bridge.  A node reaches the BFF across namespaces
# knowing only its address, joins, and the two exchange messages; a third
# node joins through the second one (not the BFF) and all three list each
# other online.  The test makes the namespaces, links and bridge and
# removes them all at the end.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
P=ob$$			# prefix: namespace and link names stay short and unique
NET=10.$(( $$ % 200 + 20 )).77	# a private /24 used only inside these namespaces
t_bridged "$P" "$NET" a b c
t_check "b's address is not on a's side" sh -c "! ip -n '$P-a' addr show | grep -q '$NET.2/'"

key=$("$OAND" genkey)
common="heartbeat-interval = 2; ipv6 = false;"
t_node_conf a 33445 8180 "$key" "$common" "server-domain-name = \"$NET.1\";" >/dev/null
t_node_conf b 33445 8180 "$key" "$common" "server-domain-name = \"$NET.2\";" \
	"bff-domain-name = \"$NET.1\"; bff-port = 8180;" >/dev/null
t_node_conf c 33445 8180 "$key" "$common" "server-domain-name = \"$NET.3\";" \
	"bff-domain-name = \"$NET.2\"; bff-port = 8180;" >/dev/null
t_start_ns "$P-a" a || t_die "a did not start"
t_start_ns "$P-b" b || t_die "b did not start"
t_eq "$(ip netns exec "$P-b" curl -s --max-time 5 "http://$NET.1:8180/v1/bootstrap" | jq -r .tox_id)" \
	"$("$OAND" -c "$T_DIR/a.conf" id)" "b reads a's bootstrap info across the bridge"
t_check "a and b list each other online" t_wait 90 "b to list 2 online" t_all_online b 2
t_check "a lists b online" t_wait 30 "a to list 2 online" t_all_online a 2
t_eq "$(t_nodes a | jq -r '.nodes[] | select(.name == "b") | .server')" "$NET.2:8180" \
	"a knows b's server address"
out=$("$OAND" -c "$T_DIR/a.conf" ping b --size 1000000 --count 2 --json)
t_eq "$(jq -c '[.ok, .failed]' <<<"$out")" "[2,0]" "a 1 MB echo off b across the bridge ($out)"
t_start_ns "$P-c" c || t_die "c did not start"
for n in a b c; do
	t_check "$n lists three online" t_wait 90 "$n to list 3 online" t_all_online $n 3
done
t_check "a and c are connected directly" t_wait 30 "a to hear c directly" \
	sh -c "'$OAND' -c '$T_DIR/a.conf' nodes --json | jq -e '.nodes[] | select(.name == \"c\") | .direct' >/dev/null"
# Cut c's link: a and b see it offline; restore it: it comes back.
ip -n "$P-c" link set eth0 down
for n in a b; do
	t_check "$n sees c offline once its link is down" \
		t_wait 10 "$n to see c offline" sh -c "[ \"\$('$OAND' -c '$T_DIR/$n.conf' nodes --json | jq -r '.nodes[] | select(.name == \"c\") | .state')\" = offline ]"
done
ip -n "$P-c" link set eth0 up
t_check "c is back once its link is up" t_wait 120 "a to list 3 online" t_all_online a 3
t_done
