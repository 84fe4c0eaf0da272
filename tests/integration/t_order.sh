#!/usr/bin/env bash
# One origin's changes show on another node in the order they were made.
#
# Node b publishes as git, maildir and atomic config updates do: each
# round writes files (each to a temporary name, then renamed to its own),
# then writes a pointer that names them and renames it over the old one.
# Node a watches: it looks for the next round's files before they exist
# (so that the kernel could cache "no such name"), and whenever the
# pointer names a round, every file of that round must be there, whole.
# Rounds come quickly (changes land on a in batches) and slowly (one
# change at a time).  Then a catches up after it was away: b made 4,000
# pointers to files and then changed every one of those files again (so
# that the files' newest versions come after all the pointers); a's
# catch-up takes several answers, and no pointer shows before its file.
. "$(dirname "$0")/lib.sh"
t_init
for t in jq nsenter python3; do command -v $t >/dev/null || t_die "$t is needed (make deps)"; done
P=oo$$
NET=10.$(( $$ % 200 + 20 )).81
t_bridged "$P" "$NET" a b
key=$("$OAND" genkey)
i=0
for n in a b; do
	i=$((i + 1))
	t_conf $n "tox-port = 33445; server-port = 8180; cluster-key = \"$key\";" \
		"heartbeat-interval = 2; ipv6 = false; fetch-timeout = 30;" \
		"server-domain-name = \"$NET.$i\"; bff-domain-name = \"$NET.1\"; bff-port = 8180;" >/dev/null
done
for n in a b; do t_start_mounted_ns "$P-$n" $n || t_die "node $n did not start"; done
t_check "both online" t_wait 120 "both to list 2 online" sh -c \
	"'$OAND' -c '$T_DIR/a.conf' nodes --json | jq -e '[.nodes[] | select(.state == \"online\")] | length == 2' >/dev/null &&
	 '$OAND' -c '$T_DIR/b.conf' nodes --json | jq -e '[.nodes[] | select(.state == \"online\")] | length == 2' >/dev/null"
mkdir "$T_DIR/b.mnt/o" || t_die "mkdir o"
t_wait 30 "a to see o" test -d "$T_DIR/a.mnt/o" || t_die "o did not reach a"

cat > "$T_DIR/writer.py" <<'EOF'
import hashlib, os, random, sys, time
d, rounds, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
random.seed(int(sys.argv[4]))
for k in range(1, rounds + 1):
    names = []
    for i in range(random.randint(1, 4)):
        body = os.urandom(random.randint(1, 3000))
        name = "obj-%d-%d" % (k, i)
        tmp = os.path.join(d, "tmp_obj_%d_%d" % (k, i))
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(d, name))
        names.append("%s %s" % (name, hashlib.sha256(body).hexdigest()))
    with open(os.path.join(d, "ptr.lock"), "w") as f:
        f.write("%d\n%s\n" % (k, "\n".join(names)))
    os.rename(os.path.join(d, "ptr.lock"), os.path.join(d, "ptr"))
    if gap:
        time.sleep(gap * random.random())
EOF
cat > "$T_DIR/checker.py" <<'EOF'
import hashlib, os, sys, time
d, rounds, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + secs
seen = bad = 0
while seen < rounds and time.time() < end:
    # Look for the next round's files before they exist.
    for i in range(4):
        try:
            os.stat(os.path.join(d, "obj-%d-%d" % (seen + 1, i)))
        except OSError:
            pass
    try:
        with open(os.path.join(d, "ptr")) as f:
            lines = f.read().split("\n")
        k = int(lines[0])
    except (OSError, ValueError, IndexError):
        time.sleep(0.01)
        continue
    if k <= seen:
        continue
    for l in lines[1:]:
        if not l:
            continue
        name, want = l.split()
        try:
            with open(os.path.join(d, name), "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
        except OSError as e:
            got = "missing (%s)" % e.strerror
        if got != want:
            bad += 1
            print("round %d: the pointer names %s, which is %s" % (k, name, got), file=sys.stderr)
    seen = k
print(seen, bad)
EOF
# round gap seed: quick rounds, then slow ones.
for run in "40 0 1" "15 0.5 2"; do
	set -- $run
	rounds=$1
	rm -rf "$T_DIR/b.mnt/o/"*
	t_wait 30 "a to see o emptied" sh -c "[ -z \"\$(ls -A '$T_DIR/a.mnt/o')\" ]"
	python3 "$T_DIR/checker.py" "$T_DIR/a.mnt/o" "$rounds" 120 > "$T_DIR/checked" 2> "$T_DIR/bad" &
	checker=$!
	python3 "$T_DIR/writer.py" "$T_DIR/b.mnt/o" "$rounds" "$2" "$3" || t_fail "the writer failed"
	wait $checker
	read -r seen bad < "$T_DIR/checked"
	head -5 "$T_DIR/bad" >&2
	t_eq "$seen" "$rounds" "a saw the last of $rounds rounds (gap $2 s)"
	t_eq "$bad" 0 "a never saw the pointer before its files ($rounds rounds, gap $2 s)"
done
# The catch-up after an absence.
t_stop a || t_die "a did not stop"
cat > "$T_DIR/burst.py" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for k in range(n):
    with open(os.path.join(d, "obj-%d-%s" % (k, "o" * 120)), "w") as f:
        f.write("%d\n" % k)
    with open(os.path.join(d, "ptr-%d-%s" % (k, "o" * 120)), "w") as f:
        f.write("obj-%d\n" % k)
for k in range(n):
    os.utime(os.path.join(d, "obj-%d-%s" % (k, "o" * 120)), (1000000 + k, 1000000 + k))
EOF
cat > "$T_DIR/watch.py" <<'EOF'
import os, sys, time
d, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + secs
looks = bad = 0
names = set()
while time.time() < end:
    try:
        names = set(os.listdir(d))
    except OSError:
        time.sleep(0.05)	# not there yet
        continue
    looks += 1
    for name in names:
        if name.startswith("ptr-") and "obj-" + name[4:] not in names:
            bad += 1
            if bad <= 5:
                print("%s shows without its file" % name, file=sys.stderr)
    if len(names) == 2 * n and all(os.stat(os.path.join(d, "obj-%d-%s" % (k, "o" * 120))).st_mtime == 1000000 + k
                                   for k in range(0, n, 97)):
        break
print(looks, bad, len(names))
EOF
python3 "$T_DIR/burst.py" "$T_DIR/b.mnt/o2" 4000 || t_fail "the burst on b failed"
t_start_mounted_ns "$P-a" a || t_die "a did not start again"
python3 "$T_DIR/watch.py" "$T_DIR/a.mnt/o2" 4000 180 > "$T_DIR/watched" 2> "$T_DIR/bad"
read -r looks bad names < "$T_DIR/watched"
head -5 "$T_DIR/bad" >&2
t_eq "$names" 8000 "a caught up with all 8,000 names (looked $looks times)"
t_eq "$bad" 0 "no pointer showed before its file during the catch-up"
t_done
