#!/usr/bin/env bash
# Fetches that must not fill the reader's disk: two mounted nodes in a
# network namespace of their own; b's data dir is a 24 MiB tmpfs.  A
# 32 MiB file of a's read on b fails at once with ENOSPC, and b writes
# nothing of it; a file that fits is read whole.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
command -v nsenter >/dev/null || t_die "nsenter (util-linux) is needed"
NS=oxf$$
t_netns "$NS"
key=$("$OAND" genkey)
common="cluster-key = \"$key\"; heartbeat-interval = 2; ipv6 = false; replicas = 1;
  server-domain-name = \"127.0.0.1\"; bff-domain-name = \"127.0.0.1\"; bff-port = 18180;
  fetch-timeout = 4;"
t_conf a "tox-port = 33445; server-port = 18180;" "$common" >/dev/null
t_conf b "tox-port = 33446; server-port = 18181;" "$common" >/dev/null
A=$T_DIR/a.mnt B=$T_DIR/b.mnt BD=$T_DIR/b.data
mkdir -p "$BD"
# lib.sh's cleanup unmounts everything under T_DIR, this tmpfs included.
mount -t tmpfs -o size=24m tmpfs "$BD" || t_die "cannot mount a tmpfs on $BD"
for n in a b; do t_start_mounted_ns "$NS" $n || t_die "node $n did not start"; done
linked() { "$OAND" -c "$T_DIR/b.conf" nodes --json 2>/dev/null |
	jq -e '.nodes[] | select(.name == "a") | .direct' >/dev/null; }
t_check "b is linked to a" t_wait 120 "b to hear a directly" linked
sum() { sha256sum < "$1" | cut -d' ' -f1; }
sized() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]; }
used_kib() { df -k --output=used "$BD" | tail -1 | tr -d ' '; }

# 1. Larger than b's free space: refused before a byte is written.
head -c $((32 << 20)) /dev/urandom > "$T_DIR/big.src"
cp "$T_DIR/big.src" "$A/big" || t_die "cannot write big on a"
t_check "b sees big" t_wait 30 "b to see big" sized "$B/big" $((32 << 20))
before=$(used_kib)
t0=$(date +%s%N)
out=$(cat "$B/big" 2>&1 >/dev/null)
took=$(( ($(date +%s%N) - t0) / 1000000 ))
case "$out" in
*"No space left on device"*) t_pass ;;
*) t_fail "reading big on b: expected ENOSPC, got '$out'" ;;
esac
t_check "ENOSPC came at once ($took ms)" [ "$took" -lt 2000 ]
t_eq "$(ls "$BD/partial")" "" "b keeps no partial of big"
t_check "b wrote nothing of big (used $(used_kib) KiB, was $before KiB)" \
	[ "$(used_kib)" -le $((before + 64)) ]
t_check "b logged the refusal" grep -q "does not fit on the data dir's disk" "$T_DIR/b.log"
t_eq "$(stat -c %s "$B/big")" $((32 << 20)) "stat of big on b still works"
rm -f "$T_DIR/big.src"

# 2. A file that fits is fetched whole.
head -c $((4 << 20)) /dev/urandom > "$T_DIR/fits.src"
cp "$T_DIR/fits.src" "$A/fits" || t_die "cannot write fits on a"
t_check "b sees fits" t_wait 30 "b to see fits" sized "$B/fits" $((4 << 20))
t_eq "$(sum "$B/fits")" "$(sum "$T_DIR/fits.src")" "fits read on b"
t_done
