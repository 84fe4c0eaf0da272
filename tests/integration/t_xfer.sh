#!/usr/bin/env bash
# Fetches between two mounted nodes in a network namespace of their own;
# b's data dir is a 24 MiB tmpfs.  A 32 MiB file of a's read on b fails at
# once with ENOSPC, and b writes nothing of it; a file that fits is read
# whole.  Wrong bytes in a partial download that b kept (as a hostile
# holder would have left them before a restart) do not get the honest
# holder that sends the rest blamed: b starts again from zero and reads
# the file.  A holder whose blob is damaged on its disk, continuing a
# partial of right bytes, is not blamed for the mixed download either,
# but is once it alone sent a whole wrong one; nothing wrong is read.  A
# file held open on b while a publishes a new version: the next open on
# b reads the new version.  A process working in a folder on b keeps its
# working folder while a adds a file to it and changes its mode.  A
# descriptor on b of a file that a replaces with a folder keeps the file.
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

xattr() { getfattr --absolute-names --only-values -n "$1" "$2" 2>/dev/null; }
id_a=$("$OAND" -c "$T_DIR/a.conf" id | cut -c1-16 | tr 'A-F' 'a-f')

# 3. Junk kept in b's partial download, then the right rest from a: the
#    check fails, a is not blamed, and b reads it whole from zero.
head -c $((4 << 20)) /dev/urandom > "$T_DIR/junk.src"
cp "$T_DIR/junk.src" "$A/junk" || t_die "cannot write junk on a"
t_check "b sees junk" t_wait 30 "b to see junk" sized "$B/junk" $((4 << 20))
h=$(xattr user.oand.sha256 "$B/junk")
head -c $((1 << 20)) /dev/urandom > "$BD/partial/$h"
t_eq "$(sum "$B/junk")" "$(sum "$T_DIR/junk.src")" "junk read on b after a wrong partial"
t_check "b said no one is blamed" grep -q "${h:0:16} fails its check; its bytes came from unknown 0-1048576, $id_a 1048576-4194304: no one is blamed" "$T_DIR/b.log"
t_check "b did not blame a" sh -c "! grep -q '$id_a sent wrong bytes' '$T_DIR/b.log'"

# 4. Right bytes in b's partial, then a's blob damaged past them: the
#    mixed download blames no one, the whole one from a alone blames a;
#    the read fails and b keeps nothing of it.
head -c $((4 << 20)) /dev/urandom > "$T_DIR/dmg.src"
cp "$T_DIR/dmg.src" "$A/dmg" || t_die "cannot write dmg on a"
t_check "b sees dmg" t_wait 30 "b to see dmg" sized "$B/dmg" $((4 << 20))
h=$(xattr user.oand.sha256 "$A/dmg")
blob=$T_DIR/a.data/objects/${h:0:2}/${h:2:2}/$h
chmod u+w "$blob"
printf '\x5a' | dd of="$blob" bs=1 seek=$((3 << 20)) conv=notrunc status=none
cmp -s "$blob" "$T_DIR/dmg.src" && printf '\xa5' | dd of="$blob" bs=1 seek=$((3 << 20)) conv=notrunc status=none
t_check "a's blob of dmg is damaged" sh -c "! cmp -s '$blob' '$T_DIR/dmg.src'"
head -c $((1 << 20)) "$T_DIR/dmg.src" > "$BD/partial/$h"
t_check "reading dmg on b fails" sh -c "! cat '$B/dmg' > /dev/null 2>&1"
t_check "the mixed download blamed no one" grep -q "${h:0:16} fails its check; its bytes came from unknown 0-1048576, $id_a 1048576-4194304: no one is blamed" "$T_DIR/b.log"
t_check "a alone sent a wrong one: blamed" grep -q "$id_a sent wrong bytes for ${h:0:16}" "$T_DIR/b.log"
t_eq "$(xattr user.oand.state "$B/dmg")" remote "b keeps nothing of dmg"
t_eq "$(ls "$BD/partial")" "" "b has no partial download left"
# 5. A file held open on b while a publishes a new version: the next
#    open on b (which shares the open state) reads the new version.
printf 'one\n' > "$A/live" || t_die "cannot write live on a"
t_check "b sees live" t_wait 30 "b to see live" sized "$B/live" 4
exec 8< "$B/live"
t_eq "$(cat <&8)" one "b reads live through a held descriptor"
printf 'two two\n' > "$A/live" || t_fail "cannot rewrite live on a"
t_check "b sees live's new size" t_wait 30 "b to see live's new size" sized "$B/live" 8
t_eq "$(cat "$B/live")" "two two" "a new open on b, with live held open there, reads a's new version"
exec 8<&-
# 6. A process working in a folder on b while a adds a file to it and
#    changes its mode: its working folder stays (getcwd).
mkdir "$A/wd" || t_die "cannot mkdir wd on a"
t_check "b sees wd" t_wait 30 "b to see wd" test -d "$B/wd"
(cd "$B/wd" && touch "$T_DIR/wd.in" && until [ -e "$T_DIR/wd.go" ]; do sleep 0.05; done &&
	python3 -c "import os; print(os.getcwd())" > "$T_DIR/wd.out" 2>&1) &
t_wait 10 "a shell to work in b's wd" test -e "$T_DIR/wd.in" || t_fail "no shell in b's wd"
echo x > "$A/wd/new" && chmod 750 "$A/wd" || t_fail "cannot write wd/new and chmod wd on a"
t_check "b sees wd/new" t_wait 30 "b to see wd/new" test -e "$B/wd/new"
t_check "b sees wd's mode" t_wait 30 "b to see wd's mode" sh -c "[ \$(stat -c %a '$B/wd') = 750 ]"
touch "$T_DIR/wd.go"
wait $!
t_eq "$(cat "$T_DIR/wd.out")" "$B/wd" "getcwd in a folder a member changed"
# 7. A file open on b that a removes and makes a folder of: b's
#    descriptor keeps the file (fstat, read, close without error), and
#    the name is a folder on b.
printf 'kept\n' > "$A/kind" || t_die "cannot write kind on a"
t_check "b sees kind" t_wait 30 "b to see kind" sized "$B/kind" 5
python3 - "$B/kind" "$T_DIR/kind.go" "$T_DIR/kind.in" > "$T_DIR/kind.out" 2>&1 <<'EOF2' &
import os, sys, time
p, go, ready = sys.argv[1:4]
fd = os.open(p, os.O_RDONLY)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
st = os.fstat(fd)
print("fstat", st.st_nlink, st.st_size, "read", os.pread(fd, 100, 0))
try:
    st = os.stat("/proc/self/fd/%d" % fd)	# by inode, without the handle
    print("stat", st.st_nlink, st.st_size, "regular" if st.st_mode & 0o100000 else "not regular")
except OSError as e:
    print("stat", e)
os.close(fd)
print("closed", "dir" if os.path.isdir(p) else "not a dir")
EOF2
t_wait 10 "b to hold kind open" test -e "$T_DIR/kind.in" || t_fail "kind was not opened on b"
rm "$A/kind" && mkdir "$A/kind" || t_fail "cannot make kind a folder on a"
t_check "b sees kind as a folder" t_wait 30 "b to see kind as a folder" test -d "$B/kind"
touch "$T_DIR/kind.go"
wait $!
t_eq "$(cat "$T_DIR/kind.out")" "fstat 0 5 read b'kept\n'
stat 0 5 regular
closed dir" "a descriptor on b of a file a replaced by a folder"
rm -f "$T_DIR"/*.src
t_done
