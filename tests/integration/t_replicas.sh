#!/usr/bin/env bash
# Replicas: with replicas = 2, content written on one of three mounted
# nodes soon has a second holder, chosen by the same ranking everywhere
# (never a third); its count shows in user.oand.replicas.  When that
# second holder is gone for longer than forget-after, its holdings are
# dropped and the remaining holder's content is copied to the third node.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
command -v getfattr >/dev/null || t_die "getfattr is needed (make deps: attr)"
key=$("$OAND" genkey)
# forget-after 0.0002 days: about 17 s
common="cluster-key = \"$key\"; heartbeat-interval = 2; server-domain-name = \"127.0.0.1\";
  bff-domain-name = \"127.0.0.1\"; bff-port = 18490; replicas = 2; forget-after = 0.0002;"
t_conf a "tox-port = 33911; server-port = 18490;" "$common" >/dev/null
t_conf b "tox-port = 33912; server-port = 18491;" "$common" >/dev/null
t_conf c "tox-port = 33913; server-port = 18492;" "$common" >/dev/null
for n in a b c; do t_start_fg $n || t_die "node $n did not start"; done
for n in a b c; do
	t_check "$n lists a, b and c online" t_wait 120 "$n to list 3 online" t_all_online $n 3
done
A=$T_DIR/a.mnt
copies() { getfattr --only-values -n user.oand.replicas "$1" 2>/dev/null; }
for i in 1 2 3 4 5; do head -c $((i * 100000)) /dev/urandom > "$A/r$i"; done
for i in 1 2 3 4 5; do
	t_check "r$i has two copies" t_wait 120 "r$i to have 2 copies" sh -c "[ \"\$(getfattr --only-values -n user.oand.replicas '$A/r$i' 2>/dev/null)\" = '2 of 2' ]"
done
# Nobody took a third copy.
for i in 1 2 3 4 5; do t_eq "$(copies "$A/r$i")" "2 of 2" "r$i still has 2 copies"; done
# The second holder of r1 goes away for good.
ida=$("$OAND" -c "$T_DIR/a.conf" id | cut -c1-64 | tr 'A-F' 'a-f')
second=$(getfattr --only-values -n user.oand.holders "$A/r1" 2>/dev/null | tr ',' '\n' | grep -v "$ida")
for n in b c; do
	idn=$("$OAND" -c "$T_DIR/$n.conf" id | cut -c1-64 | tr 'A-F' 'a-f')
	[ "$idn" = "$second" ] && gone=$n
done
[ -n "${gone:-}" ] || t_die "r1's second holder is neither b nor c ($second)"
t_stop "$gone" || t_die "$gone did not stop"
third=$([ "$gone" = b ] && echo c || echo b)
t_check "$third takes a copy of r1 once $gone is forgotten" \
	t_wait 180 "r1 to be on $third" sh -c "getfattr --only-values -n user.oand.holders '$A/r1' 2>/dev/null | grep -q \"\$('$OAND' -c '$T_DIR/$third.conf' id | cut -c1-64 | tr 'A-F' 'a-f')\""
t_check "r1 has two copies again" t_wait 60 "r1 to have 2 copies" sh -c "[ \"\$(getfattr --only-values -n user.oand.replicas '$A/r1' 2>/dev/null)\" = '2 of 2' ]"
t_check "$gone was forgotten" t_wait 60 "a to forget $gone" sh -c "! '$OAND' -c '$T_DIR/a.conf' nodes --json | jq -e '.nodes[] | select(.name == \"$gone\")' >/dev/null"
t_done
