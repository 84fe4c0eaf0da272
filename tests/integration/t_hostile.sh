#!/usr/bin/env bash
# A member turned hostile (tests/tools/evilpeer: a real node with the
# cluster key whose answers are made to harm) against two honest mounted
# nodes, a and b.  Whatever it sends, a keeps running and replicating,
# takes no version it did not sign for itself, and gives it no power a
# local user lacks:
# - a folder 2,000 levels deep (a stack overflow per level, for ever after
#   each restart, before): refused, a lives on and still takes b's changes;
#   a file 500 levels deep is taken;
# - a root-owned file of mode 6755: taken without its setuid/setgid bits;
# - a version of b's signed with its own key (and that key told as b's):
#   never shown;
# - the claim that b's changes are complete up to 2^63-1: b's later
#   changes still reach a;
# - a file of 2^40 bytes that only it holds: a read fails at once with
#   ENOSPC, nothing is written;
# - control notices made to harm (receive counts of 0, 2^64-1 and garbage,
#   cancels of random ids, news of 2^64-1 changes, wrong lengths), five a
#   second: a stays up, keeps taking b's changes and answering its status,
#   and still lists e online.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
EVIL="$OAND_TOOLS/evilpeer"
[ -x "$EVIL" ] || t_die "$EVIL is not built (make integration builds it)"
ns="hos$$"
t_netns "$ns"
key=$("$OAND" genkey)
bffport=$(t_free_port)
common="cluster-key = \"$key\"; heartbeat-interval = 2; server-domain-name = \"127.0.0.1\";
  bff-domain-name = \"127.0.0.1\"; bff-port = $bffport; replicas = 1; fetch-timeout = 20;"
t_conf a "tox-port = $(t_free_port); server-port = $bffport;" "$common" >/dev/null
t_conf b "tox-port = $(t_free_port);" "$common" >/dev/null
t_conf e "tox-port = $(t_free_port);" "$common" >/dev/null
t_start_mounted_ns "$ns" a || t_die "a did not start"
t_start_mounted_ns "$ns" b || t_die "b did not start"
rm -f "$T_DIR/e.pid"
ip netns exec "$ns" "$EVIL" "$T_DIR/e.conf" </dev/null >>"$T_DIR/e.log" 2>&1 &
EPID=$!
T_PIDS+=("$EPID")
for n in a b; do
	t_check "$n lists a, b and e online" t_wait 120 "$n to list 3 online" t_all_online $n 3
done
A=$T_DIR/a.mnt B=$T_DIR/b.mnt
APID=$(cat "$T_DIR/a.pid")
ida=$("$OAND" -c "$T_DIR/a.conf" id | cut -c1-8 | tr 'A-F' 'a-f')
round=0
# evil MODE: set e's mode and wait until a has taken an answer in it.
evil() {
	echo "$1" > "$T_DIR/e.data/evil.mode"
	t_wait 60 "a to ask e in mode '$1'" grep -qx "$1 $ida" "$T_DIR/e.data/evil.log"
}
# b_change: b makes a change, which must reach a.
b_change() {
	round=$((round + 1))
	echo "round $round" > "$B/fromb$round"
	t_wait 60 "b's change $round to reach a" grep -qx "round $round" "$A/fromb$round"
}
t_check "b's changes reach a" b_change

evil setid || t_die "a never asked e (setid)"
t_check "e's file reaches a" t_wait 30 "/setid on a" test -e "$A/setid"
t_eq "$(stat -c %a "$A/setid" 2>/dev/null)" 755 "a file of mode 6755 from a member is 755 on a"
t_check "and on b, through a" t_wait 30 "/setid on b" test -e "$B/setid"
t_eq "$(stat -c %a "$B/setid" 2>/dev/null)" 755 "a file of mode 6755 from a member is 755 on b"

evil deep500 || t_fail "a never asked e (deep500)"
deep=$A/deep$(printf '/x%.0s' $(seq 1 499))/f
t_check "a file 500 levels deep is taken" t_wait 30 "the deep file on a" test -e "$deep"

evil deep2000 || t_fail "a never asked e (deep2000)"
t_check "a lives after a folder 2,000 levels deep" sh -c "kill -0 $APID"
t_check "a still takes b's changes" b_change
t_check "a is still alive" sh -c "kill -0 $APID"
t_check "a logged the malformed answer" grep -q "malformed answer" "$T_DIR/a.log"

evil "forge b" || t_fail "a never asked e (forge)"
t_check "b's changes still reach a after the forgery" b_change
t_check "the forged version of b's is not on a" sh -c "! test -e '$A/forged'"
t_check "nor on b" sh -c "! test -e '$B/forged'"

evil "claim b" || t_fail "a never asked e (claim)"
t_check "b's changes reach a after a false claim of its progress" b_change
t_check "and again" b_change

evil huge || t_fail "a never asked e (huge)"
t_check "the huge file shows on a" t_wait 30 "/huge on a" test -e "$A/huge"
t_eq "$(stat -c %s "$A/huge" 2>/dev/null)" 1099511627776 "its size"
before=$(du -sk "$T_DIR/a.data" | cut -f1)
start=$(date +%s)
t_refused "reading it fails at once for want of space" "No space left" cat "$A/huge"
t_check "within seconds" test $(( $(date +%s) - start )) -lt 10
after=$(du -sk "$T_DIR/a.data" | cut -f1)
t_check "nothing was written for it" test $((after - before)) -lt 1024
echo noise > "$T_DIR/e.data/evil.mode"
t_check "with e's noise, b's changes reach a" b_change
t_check "and again" b_change
t_check "a still answers its status" sh -c "'$OAND' -c '$T_DIR/a.conf' status --json | jq -e '.sync.members | length >= 2' >/dev/null"
e_online() { [ "$(t_state a e)" = online ]; }
t_check "a still lists e online" t_wait 30 "a to list e online" e_online
t_check "a is alive at the end" sh -c "kill -0 $APID"
t_done
