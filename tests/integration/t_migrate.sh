#!/usr/bin/env bash
# A data dir made by the previous version (tests/fixtures/data-v3.tar.gz:
# schema 3, no signing key, versions never signed; made by oand at commit
# f107c35 with a folder, two files, a link and a deleted file) keeps
# working: the node keeps its Tox identity, gets a signing key, migrates
# its database, serves its files, and a new member takes every one of
# them (signed now by the old node, its key learned from it directly),
# while changes flow both ways, and both show its folders alike (times,
# order).
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
command -v sqlite3 >/dev/null || t_die "sqlite3 is needed (make deps)"
FIX=$(cd "$(dirname "$0")/../fixtures" && pwd)
ns="mig$$"
t_netns "$ns"
tar -C "$T_DIR" -xzf "$FIX/data-v3.tar.gz" || t_die "cannot unpack the fixture"
mv "$T_DIR/old.data" "$T_DIR/o.data"
oldkey=$(od -An -tx1 "$T_DIR/o.data/node.key" | tr -d ' \n')
t_eq "$(sqlite3 "$T_DIR/o.data/oand.db" 'PRAGMA user_version')" 3 "the fixture is at schema 3"
key=$(cat "$FIX/data-v3.key")
bffport=$(t_free_port)
common="cluster-key = \"$key\"; heartbeat-interval = 2; server-domain-name = \"127.0.0.1\";
  bff-domain-name = \"127.0.0.1\"; bff-port = $bffport; replicas = 1;"
t_conf o "tox-port = $(t_free_port); server-port = $bffport;" "$common" >/dev/null
t_conf n "tox-port = $(t_free_port);" "$common" >/dev/null
t_start_mounted_ns "$ns" o || t_die "the old node did not start on its data dir"
O=$T_DIR/o.mnt N=$T_DIR/n.mnt
t_eq "$(od -An -tx1 "$T_DIR/o.data/node.key" | tr -d ' \n')" "$oldkey" "its Tox key is kept"
t_check "it has a signing key now" test -s "$T_DIR/o.data/sign.key"
t_check "its files are as they were" sh -c "cd '$O' && sha256sum -c --quiet '$FIX/data-v3.sums'"
t_eq "$(readlink "$O/docs/link")" hello.txt "its link"
t_eq "$(stat -c %a "$O/docs/hello.txt")" 640 "a file's mode"
t_check "a deleted file stays deleted" sh -c "! test -e '$O/gone'"
t_start_mounted_ns "$ns" n || t_die "the new node did not start"
for x in o n; do t_check "$x lists both online" t_wait 120 "$x to list 2 online" t_all_online $x 2; done
t_check "the new node takes the old node's tree" t_wait 60 "docs/deep/blob.bin on n" test -e "$N/docs/deep/blob.bin"
t_check "with the same bytes" sh -c "cd '$N' && sha256sum -c --quiet '$FIX/data-v3.sums'"
t_eq "$(readlink "$N/docs/link")" hello.txt "the link on n"
t_eq "$(stat -c %a "$N/docs/hello.txt")" 640 "the mode on n"
t_check "the deleted file is not on n" sh -c "! test -e '$N/gone'"
echo new > "$N/from-n"
t_check "a change on n reaches o" t_wait 60 "from-n on o" grep -qx new "$O/from-n"
echo old > "$O/from-o"
t_check "a change on o reaches n" t_wait 60 "from-o on n" grep -qx old "$N/from-o"
# Folders read the same on both (times to the nanosecond, listing order:
# by name, bytewise), the old node's folders as the new one's.
touch "$O/docs/b" "$O/docs/B" "$O/docs/a-" "$O/docs/_"
dirs() { for d in "$1" "$1/docs" "$1/docs/deep"; do stat -c '%y %z' "$d"; ls -f "$d"; done; }
same_dirs() { [ "$(dirs "$O")" = "$(dirs "$N")" ]; }
t_check "folders read the same on o and n" t_wait 60 "o's folders on n" same_dirs
t_eq "$(ls -f "$N/docs" | tr '\n' ' ')" "$(ls -fa "$N/docs" | LC_ALL=C sort | tr '\n' ' ')" "docs lists by name"
# The databases, once the nodes are stopped (they hold them exclusively):
# n knows o's key from o itself (1); o knows n's as derived from n's id (2).
t_stop n || t_fail "n did not stop"
t_stop o || t_fail "o did not stop"
t_eq "$(sqlite3 "$T_DIR/o.data/oand.db" 'PRAGMA user_version')" 5 "o's database is migrated to schema 5"
t_eq "$(sqlite3 "$T_DIR/n.data/oand.db" 'SELECT group_concat(how) FROM origin_keys')" 1 "n holds o's key, told by o"
t_eq "$(sqlite3 "$T_DIR/o.data/oand.db" 'SELECT group_concat(how) FROM origin_keys')" 2 "o holds n's key, derived"
t_eq "$(sqlite3 "$T_DIR/n.data/oand.db" 'SELECT count(*) FROM entries WHERE wire IS NULL AND origin<>(SELECT origin FROM entries WHERE path="/from-n")')" 0 "every version n took from o is kept signed"
t_done
