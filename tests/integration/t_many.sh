#!/usr/bin/env bash
# Ten nodes started at the same moment, nine of them knowing only the
# BFF's address: every node lists all ten online, each with links to all
# nine others (the default max-peers keeps them all), and all ten still
# answer.  (Befriending many members in one pass once overran the friend
# list copy; a cluster of this size showed it, smaller ones did not.)
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
NS=oand-m$$
t_netns "$NS"
key=$("$OAND" genkey)
N=10
common='heartbeat-interval = 2; server-domain-name = "127.0.0.1";'
bff='bff-domain-name = "127.0.0.1"; bff-port = 18180;'
names=()
for ((i = 1; i <= N; i++)); do
	extra=$bff
	[ $i = 1 ] && extra=''
	t_node_conf m$i $((33620 + i)) $((18179 + i)) "$key" "$common" "$extra" >/dev/null
	names+=("m$i")
done
for n in "${names[@]}"; do t_start_ns "$NS" $n || t_die "node $n did not start (see $T_DIR/$n.log)"; done
for n in "${names[@]}"; do
	t_check "$n lists all $N online" t_wait 180 "$n to list $N online" t_all_online $n $N
done
for n in "${names[@]}"; do
	t_check "$n has $((N - 1)) members linked" t_wait 60 "$n to link all" \
		sh -c "[ \"\$('$OAND' -c '$T_DIR/$n.conf' status --json | jq .tox.members)\" = $((N - 1)) ]"
done
for n in "${names[@]}"; do
	pid=$(cat "$T_DIR/$n.pid")
	t_check "$n still runs" kill -0 "$pid"
	t_check "$n logged no fault" sh -c "! grep -Eq 'free\(\)|corrupt|Sanitizer|runtime error' '$T_DIR/$n.log'"
done
t_done
