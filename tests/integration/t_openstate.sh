#!/usr/bin/env bash
# All opens of a file on one node share one state (doc/namespace.md,
# section 7), with the tools a user has: four shells appending 200 lines
# each to one log in parallel keep all 800; two O_APPEND descriptors
# writing 500 lines each keep all 1000, and a reader sees them before the
# close; fsxlite (reads, writes, mapped reads and writes on a second
# descriptor, truncates, reopens) against a model for $FSX_OPS operations
# (100,000 unless told); SQLite in WAL mode with one writer and three
# reader processes, then PRAGMA integrity_check; a truncate by name of a
# file open here is seen through its descriptors and published at once;
# a file kept open for writing is published after publish-interval, and
# again at its close.
. "$(dirname "$0")/lib.sh"
t_init
command -v python3 >/dev/null || t_die "python3 is needed"
python3 -c 'import sqlite3' 2>/dev/null || t_die "python3's sqlite3 is needed"
conf=$(t_conf n1 "publish-interval = 1;")
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt
PX=$(cd "$(dirname "$0")/../posix" && pwd)

# ---- appends ----
: > "$M/log"
for i in 1 2 3 4; do
	(for j in $(seq 1 200); do echo "shell $i line $j" >> "$M/log"; done) &
done
wait
t_eq "$(wc -l < "$M/log")" 800 "four shells appending 200 lines each: lines kept"
t_eq "$(sort -u "$M/log" | wc -l)" 800 "every line once"
t_eq "$(grep -c '^shell [1-4] line [0-9]*$' "$M/log")" 800 "no line torn"
cat > "$T_DIR/append.py" <<'EOF2'
import os, sys
p = sys.argv[1]
a = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
b = os.open(p, os.O_WRONLY | os.O_APPEND)
r = os.open(p, os.O_RDONLY)
for i in range(500):
    os.write(a, b"a%04d\n" % i)
    os.write(b, b"b%04d\n" % i)
print(len(os.pread(r, 1 << 20, 0)))
os.close(a); os.close(b); os.close(r)
EOF2
t_eq "$(python3 "$T_DIR/append.py" "$M/two")" 6000 "a reader sees both descriptors' appends before close"
t_eq "$(wc -l < "$M/two")" 1000 "two O_APPEND descriptors, 500 lines each: lines kept"
t_eq "$(grep -c '^a' "$M/two") $(grep -c '^b' "$M/two")" "500 500" "each descriptor's lines"
t_eq "$(getfattr --absolute-names --only-values -n user.oand.sha256 "$M/two")" \
	"$(sha256sum < "$M/two" | cut -d' ' -f1)" "the published version is the file as both left it"

# An appender keeps its file open while `ls -l` lists the folder: the
# listing does not give the kernel the published size back.
mkdir "$M/lsd"
t_eq "$(python3 -c '
import os, subprocess, sys
d = sys.argv[1]
fd = os.open(d + "/applog", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for i in range(300):
    os.write(fd, b"line %04d\n" % i)
    if i % 10 == 9:
        subprocess.run(["ls", "-l", d], stdout=subprocess.DEVNULL, check=True)
os.close(fd)
print(len(open(d + "/applog").read().splitlines()))' "$M/lsd")" 300 "an O_APPEND writer with ls -l of its folder between writes: lines kept"

# ---- fsx with mapped I/O ----
out=$(python3 "$PX/fsxlite.py" "$M/fsx" "${FSX_OPS:-100000}" 7 2>&1)
t_eq "$out" "OK ${FSX_OPS:-100000} ops" "fsxlite with mmap"

# ---- SQLite WAL ----
out=$(python3 "$PX/walrw.py" "$M/wal.db" 8 2>&1)
t_check "SQLite WAL, a writer and three readers: $out" grep -q '^OK [1-9]' <<<"$out"
t_check "sqlite3 opens it after" python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
sys.exit(c.execute('PRAGMA integrity_check').fetchone()[0] != 'ok')" "$M/wal.db"

# ---- truncate by name of a file open here ----
printf 'hello world\n' > "$M/tr"
exec 8< "$M/tr"
truncate -s 5 "$M/tr" || t_fail "truncate -s 5 of a file held open"
t_eq "$(cat <&8)" hello "a descriptor opened before a truncate by name reads the truncated file"
exec 8<&-
t_eq "$(getfattr --absolute-names --only-values -n user.oand.sha256 "$M/tr")" \
	"$(printf hello | sha256sum | cut -d' ' -f1)" "the truncate is published at once"
t_eq "$(python3 -c '
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, b"abcdef", 0)
os.truncate(p, 2)
os.close(fd)
print(open(p).read())' "$M/tr")" ab "a truncate by name while a writer has unpublished bytes applies to them"

# ---- publish-interval ----
exec 7>"$M/open.log"
echo first >&7
want=$(printf 'first\n' | sha256sum | cut -d' ' -f1)
published() { [ "$(getfattr --absolute-names --only-values -n user.oand.sha256 "$M/open.log")" = "$1" ]; }
t_wait 10 "a file open for writing to be published" published "$want" || t_fail "a file open for writing was not published within 10 s (publish-interval = 1)"
echo second >&7
exec 7>&-
t_check "published again at close" published "$(printf 'first\nsecond\n' | sha256sum | cut -d' ' -f1)"

t_stop n1 || t_fail "clean unmount"
t_done
