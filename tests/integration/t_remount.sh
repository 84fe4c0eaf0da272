#!/usr/bin/env bash
# Unmount and remount keep the tree byte for byte: names, kinds, sizes,
# modes, owners, mtimes, link targets and contents.  So does a node killed
# with SIGKILL, for everything closed before.  A second oand on the same
# data dir fails with exit 1 and the first one keeps working.
. "$(dirname "$0")/lib.sh"
t_init
export LC_ALL=C
conf=$(t_conf n1)
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt
S=$T_DIR/src
mkdir -p "$S"

# listing: everything `find` can say about each name, then the contents.
listing() {
	(cd "$M" && find . -printf '%p %y %s %m %U %G %T@ %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# same_listing DESC BEFORE: the mount's listing is still BEFORE.
same_listing() {
	local d
	if d=$(diff <(printf '%s\n' "$2") <(listing)); then
		t_pass
	else
		t_fail "$1:"$'\n'"$d"
	fi
}

# entries: "entries: N (...)" from oand status.
entries() { "$OAND" -c "$conf" status | grep '^entries:' | tr -s ' '; }

# remount DESC: stop n1 and start it again; the tree must be unchanged.
remount() {
	local before count
	before=$(listing)
	count=$(entries)
	t_stop n1 || t_fail "$1: unmount"
	t_check "$1: the mount is gone while stopped" sh -c "! awk -v m='$M' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
	t_start n1 || t_die "$1: node n1 did not start again (see $T_DIR/n1.log)"
	same_listing "$1: the tree changed" "$before"
	t_eq "$(entries)" "$count" "$1: oand status entry count"
}

for s in 1 5000 131073 3145728; do head -c $s /dev/urandom > "$S/r$s"; done

# ---- a tree with a bit of everything ----
cd "$M" || t_die "cannot enter $M"
mkdir -p a/b/c 'with space' empty private ünïcødé || t_fail "mkdir"
: > a/zero
cp "$S/r1" a/one && cp "$S/r5000" a/b/five && cp "$S/r131073" a/b/c/big &&
	cp "$S/r3145728" 'with space/3 MiB' && cp "$S/r5000" ünïcødé/dup || t_fail "cp"
printf 'quote " and \\ backslash\n' > "a/it's"
echo text > "$(printf 'n%.0s' $(seq 1 255))"
ln -s a/b/five link && ln -s /nowhere/at/all dangling && ln -s a dirlink || t_fail "ln -s"
chmod 600 a/one && chmod 700 private && chmod 755 a/b/five || t_fail "chmod"
chown 1000:1000 a/b/five && chown 2000:3000 private || t_fail "chown"
touch -d '2001-02-03 04:05:06.123456789' a/zero && touch -d '1990-01-01' 'with space' || t_fail "touch -d"
echo gone > deleted && rm deleted || t_fail "a deleted file"
echo renamed > before && mv before after && mv a/b/c a/moved || t_fail "renames"
truncate -s 70000 a/b/five && dd if="$S/r5000" of=a/one bs=1 seek=3000 conv=notrunc status=none ||
	t_fail "truncate and overwrite"
cd /

t_check "status shows the mount point" grep -qx "mount point: *$M" <("$OAND" -c "$conf" status)
remount "first remount"
t_check "status shows the mount point after a remount" grep -qx "mount point: *$M" <("$OAND" -c "$conf" status)
t_eq "$(cat "$M/link" | sha256sum)" "$(cat "$M/a/b/five" | sha256sum)" "cat through a link after a remount"

# ---- change things after the remount, remount again ----
rm -r "$M/a/moved" && echo new > "$M/a/new" && cp "$S/r131073" "$M/a/b/five" &&
	chmod 640 "$M/a/new" && mv "$M/with space" "$M/a/" || t_fail "changes after the remount"
remount "second remount"

# ---- a node killed with SIGKILL keeps what was closed ----
cp "$S/r3145728" "$M/before-kill" && mkdir "$M/dir-before-kill" && rm "$M/a/one" ||
	t_fail "changes before the kill"
before=$(listing)
t_kill9 n1 || t_fail "kill -9"
t_start n1 || t_die "node n1 did not start after kill -9 (see $T_DIR/n1.log)"
same_listing "after kill -9 and a restart: the tree changed" "$before"

# ---- a second oand on the same data dir ----
pid=$(cat "$T_DIR/n1.pid")
timeout 30 "$OAND" -c "$conf" 2>"$T_DIR/second.err"
t_eq "$?" 1 "a second oand with the same config: exit status"
# Another mount point, same data dir: the data dir's lock must refuse it.
sed "s|$T_DIR/n1.mnt|$T_DIR/n2.mnt|" "$conf" > "$T_DIR/n2.conf" && mkdir -p "$T_DIR/n2.mnt"
timeout 30 "$OAND" -c "$T_DIR/n2.conf" 2>"$T_DIR/second2.err"
t_eq "$?" 1 "a second oand on the same data dir, other mount point: exit status"
t_check "the second oand says why, naming the data dir: $(cat "$T_DIR/second2.err")" \
	grep -qF "is already running on $T_DIR/n1.data" "$T_DIR/second2.err"
t_check "the second oand did not mount" sh -c "! awk -v m='$T_DIR/n2.mnt' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
t_check "the first node is still running" kill -0 "$pid"
t_check "the first node is still mounted" t_is_mounted "$M"
same_listing "the tree after the refused second oand" "$before"
t_check "status still reaches the first node" grep -q "\"pid\":$pid," <("$OAND" -c "$conf" status --json)
echo still works > "$M/after-second" || t_fail "write after the refused second oand"
t_eq "$(cat "$M/after-second")" "still works" "read after the refused second oand"
remount "remount after the refused second oand"

t_stop n1 || t_fail "clean unmount"
t_check "the node removed its control socket" test ! -e "$T_DIR/n1.data/oand.sock"
t_eq "$("$OAND" -c "$conf" status 2>&1; echo "exit $?")" \
	"oand: no node is running on $T_DIR/n1.data"$'\n'"exit 1" "status once stopped"
t_done
