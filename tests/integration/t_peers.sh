#!/usr/bin/env bash
# max-peers limits direct connections, not knowledge: six nodes with
# max-peers = 2 each keep links to their two ring neighbours (plus, for a
# joiner, its BFF), yet every node lists all six online, because the node
# list travels by gossip.  When one node stops, all the others, linked to
# it or not, mark it offline.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
NS=oand-p$$
t_netns "$NS"
key=$("$OAND" genkey)
common='heartbeat-interval = 1; max-peers = 2; server-domain-name = "127.0.0.1";'
names="a b c d e f"
i=0
for n in $names; do
	if [ $n = a ]; then extra=''; else extra='bff-domain-name = "127.0.0.1"; bff-port = 18180;'; fi
	t_node_conf $n $((33601 + i)) $((18180 + i)) "$key" "$common" "$extra" >/dev/null
	t_start_ns "$NS" $n || t_die "node $n did not start"
	i=$((i + 1))
done
for n in $names; do
	t_check "$n lists all six online" t_wait 120 "$n to list 6 online" t_all_online $n 6
done
# Links settle once everyone knows everyone: at most two ring neighbours
# and the BFF each.
few_links() {
	local n
	for n in $names; do [ "$(t_status_num $n online)" -le 3 ] || return 1; done
}
t_check "no node keeps more than max-peers links (+ its BFF)" t_wait 30 "links to settle" few_links
for n in $names; do
	t_log "$n: $(t_status_num $n online) link(s) up, $(t_nodes $n | jq -c '[.nodes[] | select(.direct) | .name]')"
done
indirect=$(for n in $names; do t_nodes $n | jq '[.nodes[] | select(.self | not) | select(.direct | not)] | length'; done |
	awk '{s += $1} END {print s}')
t_check "some nodes know others only by gossip ($indirect pairs)" [ "$indirect" -gt 0 ]
# Gossip alone keeps the nodes without a direct link online (a loaded
# machine may show one stale for a moment: a short wait, not a sleep).
for n in $names; do t_check "$n still lists six online" t_wait 10 "$n to list 6 online" t_all_online $n 6; done
kill -TERM "$(cat "$T_DIR/d.pid")"
for n in a b c e f; do
	t_check "$n marks the stopped d offline" t_wait 15 "$n to see d offline" \
		sh -c "[ \"\$('$OAND' -c '$T_DIR/$n.conf' nodes --json | jq -r '.nodes[] | select(.name == \"d\") | .state')\" = offline ]"
done
t_done
