#!/usr/bin/env bash
# One shared tree on three mounted nodes (real mounts, real Tox on
# loopback): files of 0 B to 64 MiB written on one node read identically
# on the others, fetched whole and checked; folders, renames, deletes,
# chmod, mtimes and symlinks made on any node reach all, and the three
# trees (with every file's SHA-256) end up identical; folders changed on
# all three at once read the same everywhere (times to the nanosecond,
# listing order, tar archives); holders and the
# state of a file show in its xattrs; with no holder online a read fails
# with EIO within fetch-timeout while ls and stat go on; a holder that
# sends wrong bytes is caught and nothing wrong is readable; a holder
# killed in the middle of a 64 MiB transfer: the reader goes on from
# another holder at the offset it had, and a reader killed in the middle
# goes on after its restart; a node started afresh against
# 10,000 entries lists them all.
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
command -v getfattr >/dev/null || t_die "getfattr is needed (make deps: attr)"
FETCH=8		# fetch-timeout, seconds
key=$("$OAND" genkey)
common="cluster-key = \"$key\"; heartbeat-interval = 2; server-domain-name = \"127.0.0.1\";
  bff-domain-name = \"127.0.0.1\"; bff-port = 18390; fetch-timeout = $FETCH; replicas = 1;"
t_conf a "tox-port = 33811; server-port = 18390;" "$common" >/dev/null
t_conf b "tox-port = 33812; server-port = 18391;" "$common" >/dev/null
t_conf c "tox-port = 33813; server-port = 18392;" "$common" >/dev/null
for n in a b c; do t_start_fg $n || t_die "node $n did not start"; done
for n in a b c; do
	t_check "$n lists a, b and c online" t_wait 120 "$n to list 3 online" t_all_online $n 3
done
A=$T_DIR/a.mnt B=$T_DIR/b.mnt C=$T_DIR/c.mnt
id_of() { "$OAND" -c "$T_DIR/$1.conf" id | cut -c1-64 | tr 'A-F' 'a-f'; }
sum() { sha256sum < "$1" | cut -d' ' -f1; }
# sized FILE SIZE: FILE is there with its final size (a copy shows first as
# an empty file, then with its content once closed).
sized() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]; }
# tree NAME: the tree as NAME's mount shows it: every entry with its type,
# mode, size, mtime (files) or target (links), and each file's SHA-256.
tree() {
	(cd "$T_DIR/$1.mnt" && find . -type d -printf '%p d %m %U:%G %T@ %C@\n' &&
		find . ! -type d -printf '%p %y %m %U:%G %s %T@ %l\n' &&
		find . -type f -exec sha256sum {} +) | sort
}
same_trees() {
	tree a > "$T_DIR/tree.a" && tree b > "$T_DIR/tree.b" && tree c > "$T_DIR/tree.c" &&
		cmp -s "$T_DIR/tree.a" "$T_DIR/tree.b" && cmp -s "$T_DIR/tree.a" "$T_DIR/tree.c"
}

# 1. Files of every size written on a read the same on b and c.
for s in 0 1 1371 1372 65536 1048577 67108864; do
	head -c $s /dev/urandom > "$T_DIR/src.$s"
	cp "$T_DIR/src.$s" "$A/f.$s" || t_fail "write f.$s on a"
done
want=$(sum "$T_DIR/src.1")
for n in b c; do
	for s in 0 1 1371 1372 65536 1048577 67108864; do
		t_check "$n sees f.$s" t_wait 30 "$n to see f.$s" sized "$T_DIR/$n.mnt/f.$s" $s
	done
done
t_eq "$(getfattr --only-values -n user.oand.state "$B/f.1" 2>/dev/null)" remote \
	"f.1 on b before it is read"
for s in 0 1 1371 1372 65536 1048577 67108864; do
	t_eq "$(sum "$B/f.$s")" "$(sum "$T_DIR/src.$s")" "f.$s read on b"
done
for s in 0 1 1371 1372 65536 1048577 67108864; do
	t_eq "$(sum "$C/f.$s")" "$(sum "$T_DIR/src.$s")" "f.$s read on c"
done
t_eq "$(getfattr --only-values -n user.oand.state "$B/f.1" 2>/dev/null)" local "f.1 on b once read"
idb=$(id_of b)
holds_b() { getfattr --only-values -n user.oand.holders "$A/f.1" 2>/dev/null | grep -q "$idb"; }
t_check "a lists b as a holder of f.1" t_wait 30 "b in f.1's holders on a" holds_b
rm -f "$T_DIR"/src.*

# 2. Changes made on every node reach all of them.
mkdir -p "$A/tree/x/y" "$A/gone/deep"
echo one > "$A/tree/x/one"
echo two > "$A/tree/x/y/two"
ln -s x/one "$A/tree/link"
echo moved > "$A/tree/tomove"
t_check "b sees a's tree" t_wait 30 "b to see tree/x/y/two" sized "$B/tree/x/y/two" 4
t_check "b sees tomove" t_wait 30 "b to see tree/tomove" sized "$B/tree/tomove" 6
mv "$B/tree/tomove" "$B/tree/x/moved" || t_fail "rename on b"
chmod 600 "$B/tree/x/one" || t_fail "chmod on b"
touch -d "2001-02-03 04:05:06" "$B/tree/x/y/two" || t_fail "utimens on b"
echo three > "$C/tree/three" || t_fail "create on c"
# (after b's touch has reached c: attributes changed at once on two
# nodes are one version each, and the later one wins whole)
t_check "c sees b's touch" t_wait 30 "c to see two's mtime" sh -c "[ \"\$(date -u -r '$C/tree/x/y/two' +%Y)\" = 2001 ]"
chown 1234:5678 "$C/tree/x/y/two" || t_fail "chown on c"
t_check "a sees three" t_wait 30 "a to see tree/three" sized "$A/tree/three" 6
truncate -s 2 "$A/tree/three" || t_fail "truncate on a"
t_check "c sees gone/deep" t_wait 30 "c to see gone/deep" test -d "$C/gone/deep"
rm -r "$C/gone" || t_fail "rm -r on c"
rm "$A/f.0" || t_fail "unlink on a"
# Folders change on all three at once: names come and go in folders of
# their own and in shared ones (tree, tree/x), a folder's time is set.
pids=()
for n in a b c; do
	(m=$T_DIR/$n.mnt/tree
	 mkdir "$m/d-$n" && for i in 1 2 3; do echo "$n $i" > "$m/d-$n/f$i"; echo "$n" > "$m/x/from-$n-$i"; done &&
		mv "$m/d-$n/f1" "$m/d-$n/g1" && rm "$m/d-$n/f2" "$m/x/from-$n-2" &&
		touch -d "2002-03-04 05:06:07.123456789" "$m/d-$n/f3") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "folder changes on one node"; done
# (each node's last change, the time of f3, seen everywhere)
seen_all() { for m in a b c; do [ "$(date -r "$T_DIR/$1.mnt/tree/d-$m/f3" +%Y)" = 2002 ] || return 1; done; }
for n in a b c; do t_check "$n sees every d-*" t_wait 30 "$n to see the d-* folders" seen_all $n; done
# ... and in each other's folders.
mv "$A/tree/d-b/g1" "$A/tree/x/g1-b" && rm "$A/tree/d-b/f3" && : > "$A/tree/d-b/new-a" || t_fail "changes on a"
mv "$B/tree/d-c/f3" "$B/tree/d-a/f3-c" && touch -d "2003-04-05 06:07:08.987654321" "$B/tree/d-c" ||
	t_fail "changes on b"
mkdir "$C/tree/d-a/sub" && rm "$C/tree/x/from-a-1" && touch -d "2004-01-01 00:00:00.5" "$C/tree/x" \
	|| t_fail "changes on c"
t_check "the three trees are the same" t_wait 60 "the trees to agree" same_trees
if ! same_trees; then diff "$T_DIR/tree.a" "$T_DIR/tree.b" | head -20 >&2; fi
# Folders read the same everywhere: times to the nanosecond (in the trees
# above), and each lists its names in one order (by name, bytewise), so
# archives of the tree are the same bytes.
listing() { (cd "$T_DIR/$1.mnt/tree" && find . -type d | LC_ALL=C sort | while read -r d; do
	echo "$d: $(stat -c '%y %z' "$d")"; ls -f "$d"; done); }
archive() { tar --sort=none -C "$T_DIR/$1.mnt" -cf - tree | sha256sum | cut -d' ' -f1; }
for n in b c; do
	t_eq "$(listing $n)" "$(listing a)" "$n lists and dates every folder as a does"
	t_eq "$(archive $n)" "$(archive a)" "tar of the tree on $n and on a"
done
t_eq "$(ls -f "$C/tree/x" | tail -n +3 | tr '\n' ' ')" "$(ls -a "$C/tree/x" | tail -n +3 | LC_ALL=C sort | tr '\n' ' ')" \
	"a folder lists by name"
t_eq "$(stat -c %y "$A/tree/d-c")" "$(date -d '2003-04-05 06:07:08.987654321' '+%F %T.%N %z')" \
	"a folder's time set on b, on a"
t_eq "$(stat -c %a "$A/tree/x/one")" 600 "chmod on b reached a"
t_eq "$(date -u -r "$C/tree/x/y/two" +%Y)" 2001 "mtime set on b reached c"
t_eq "$(readlink "$C/tree/link")" x/one "symlink reached c"
t_eq "$(stat -c %u:%g "$A/tree/x/y/two")" 1234:5678 "chown on c reached a"
t_eq "$(cat "$B/tree/three")" th "truncate on a reached b"
t_check "rename reached a" test -f "$A/tree/x/moved"
t_check "rm -r reached a" test ! -e "$A/gone"

# 3. No holder online: EIO within fetch-timeout; ls and stat go on.
echo lonely > "$C/lonely"
t_check "b sees lonely" t_wait 30 "b to see lonely" sized "$B/lonely" 7
t_stop c || t_die "c did not stop"
t0=$(date +%s)
t_check "reading lonely on b fails with EIO" \
	sh -c "cat '$B/lonely' 2>&1 >/dev/null | grep -q 'Input/output error'"
took=$(( $(date +%s) - t0 ))
t_check "EIO came within fetch-timeout ($took s)" [ $took -le $((FETCH + 4)) ]
t_check "stat of lonely still works" test "$(stat -c %s "$B/lonely")" = 7
t_check "ls still lists it" sh -c "ls '$B' | grep -qx lonely"

# 4. A holder that sends wrong bytes: caught, and nothing wrong is
#    readable; that holder is not trusted with it again.
OAND_TEST_CORRUPT_SENDS=1 t_start_fg c || t_die "c did not restart"
t_check "c online again" t_wait 120 "b to list 3 online" t_all_online b 3
head -c 100000 /dev/urandom > "$T_DIR/bad.src"
cp "$T_DIR/bad.src" "$C/bad"
t_check "b sees bad" t_wait 30 "b to see bad" sized "$B/bad" 100000
t_check "reading what only a liar holds fails" sh -c "! cat '$B/bad' > /dev/null 2>&1"
t_check "b logged the wrong bytes" grep -q "sent wrong bytes" "$T_DIR/b.log"
t_eq "$(getfattr --only-values -n user.oand.state "$B/bad" 2>/dev/null)" remote "b keeps nothing of bad"
t_check "b has no partial download left" sh -c "[ -z \"\$(ls '$T_DIR/b.data/partial')\" ]"
t_stop c || t_die "c did not stop"
t_start_fg c || t_die "c did not restart"
t_check "c online again" t_wait 120 "b to list 3 online" t_all_online b 3
t_eq "$(sum "$B/bad")" "$(sum "$T_DIR/bad.src")" "bad, read from an honest c"

# 5. A holder killed in the middle of a 64 MiB transfer: the reader goes
#    on from the other holder, from where it was.
head -c 67108864 /dev/urandom > "$T_DIR/big.src"
cp "$T_DIR/big.src" "$A/big"
t_check "c sees big" t_wait 30 "c to see big" sized "$C/big" 67108864
t_eq "$(sum "$C/big")" "$(sum "$T_DIR/big.src")" "big read on c"
t_check "b sees big" t_wait 30 "b to see big" sized "$B/big" 67108864
holders2() { [ "$(getfattr --only-values -n user.oand.holders "$B/big" 2>/dev/null | tr ',' '\n' | grep -c .)" -ge 2 ]; }
t_check "b knows two holders of big" t_wait 30 "two holders of big on b" holders2
sha256sum < "$B/big" > "$T_DIR/big.sum" 2>&1 &
reader=$!
peer_of_b() { "$OAND" -c "$T_DIR/b.conf" status --json | jq -r '.transfers[] | select(.direction == "in" and .done > 4194304) | .peer' | grep -E '^(a|c)$'; }
t_check "b receives big" t_wait 120 "b to have 4 MiB of big" peer_of_b
from=$(peer_of_b | head -1)
t_kill9 "$from"
t_wait 300 "b's read of big to end" t_gone $reader
wait $reader
t_eq "$(cut -d' ' -f1 "$T_DIR/big.sum")" "$(sum "$T_DIR/big.src")" "big read on b after $from was killed"
t_check "b went on from where it was" grep -q "resumes at" "$T_DIR/b.log"
rm -f "$T_DIR/big.src"

# The killed holder comes back (a cluster of two live nodes is one its
# restarted members can take minutes to find again over Tox).
t_start_fg "$from" || t_die "$from did not restart"
t_check "$from is back" t_wait 300 "b to hear $from directly" sh -c "'$OAND' -c '$T_DIR/b.conf' nodes --json | jq -e '.nodes[] | select(.name == \"$from\") | .direct' >/dev/null"

# 5b. The reading node itself is killed in the middle: restarted, it goes
#     on from the bytes it had received.
head -c 33554432 /dev/urandom > "$T_DIR/mid.src"
live=$([ "$from" = a ] && echo c || echo a)
cp "$T_DIR/mid.src" "$T_DIR/$live.mnt/mid"
t_check "b sees mid" t_wait 30 "b to see mid" sized "$B/mid" 33554432
cat "$B/mid" > /dev/null 2>&1 &
partial_big() { [ "$(stat -c %s "$T_DIR"/b.data/partial/* 2>/dev/null | sort -n | tail -1)" -gt 4194304 ]; }
t_check "b receives mid" t_wait 120 "b to have 4 MiB of mid" partial_big
resumes=$(grep -c "resumes at" "$T_DIR/b.log")
t_kill9 b
t_start_fg b || t_die "b did not restart"
# Linked again, not merely listed online (the list it saved says so).
t_check "b is back" t_wait 300 "b to hear $live directly" sh -c "'$OAND' -c '$T_DIR/b.conf' nodes --json | jq -e '.nodes[] | select(.name == \"$live\") | .direct' >/dev/null"
t_eq "$(sum "$B/mid")" "$(sum "$T_DIR/mid.src")" "mid read on b after b's restart"
t_check "b went on from its partial download" [ "$(grep -c "resumes at" "$T_DIR/b.log")" -gt "$resumes" ]
rm -f "$T_DIR/mid.src"

# 6. A node started afresh against 10,000 entries lists them all.
mkdir "$B/many"
for i in $(seq 0 9); do (cd "$B/many" && touch $(seq -f "d${i}f%g" 1 1000)) || t_fail "touch batch $i"; done
entries() { "$OAND" -c "$T_DIR/$1.conf" status --json | jq -r .entries; }
n_b=$(entries b)
t_check "b holds 10,000 more entries ($n_b)" [ "$n_b" -ge 10000 ]
t_conf d "tox-port = 33814; server-port = 18393;" \
	"$(sed 's/bff-port = 18390/bff-port = 18391/' <<<"$common")" >/dev/null
t_start_fg d || t_die "node d did not start"
t_check "d has every entry" t_wait 180 "d to hold $n_b entries" sh -c "[ \"\$('$OAND' -c '$T_DIR/d.conf' status --json | jq -r .entries)\" = $n_b ]"
t_eq "$(ls "$T_DIR/d.mnt/many" | wc -l)" 10000 "d lists many/"
t_eq "$(ls -f "$T_DIR/d.mnt/many" | sha256sum)" "$(ls -f "$B/many" | sha256sum)" "d lists many/ in b's order"
t_done
