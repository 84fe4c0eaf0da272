#!/usr/bin/env bash
# Everyday filesystem operations on a real mount, each compared with the
# same operation on a native folder: mkdir -p, cp, mv of files and folders
# across folders, rm -r, 10,000 files in one folder, truncate, partial and
# sparse overwrites, symlinks, the oand xattrs, chmod/chown/touch -d, df,
# hard links (refused) and the entry counts of `oand status`.
. "$(dirname "$0")/lib.sh"
t_init
export LC_ALL=C TZ=UTC
conf=$(t_conf n1)
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt
R=$T_DIR/ref
D=$T_DIR/n1.data
S=$T_DIR/src
mkdir -p "$R" "$S"


# snap DIR: kinds, sizes, modes, link targets and contents of a tree.
# Folder sizes are left out (native folders report 4096, oand 0).
snap() {
	(cd "$1" && {
		find . -mindepth 1 \( -type l -printf '%p l -> %l\n' \) -o \
			\( -type d -printf '%p d %m\n' \) -o -printf '%p %y %s %m\n' | sort
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum
	})
}

# same_tree DESC: the mount and the native reference hold the same tree.
same_tree() {
	local d
	if d=$(diff <(snap "$R") <(snap "$M")); then
		t_pass
	else
		t_fail "$1: mount differs from the native reference:"$'\n'"$d"
	fi
}

# both CMD: run the shell command CMD in the reference and in the mount.
both() {
	(cd "$R" && eval "$1") || t_fail "on the native reference: $1"
	(cd "$M" && eval "$1") || t_fail "on the mount: $1"
}

# xattr NAME FILE: the value of one extended attribute.
xattr() { getfattr --absolute-names --only-values -n "$1" "$2"; }

# same_file NAME DESC: NAME has the same bytes and size in both trees.
same_file() {
	if cmp "$R/$1" "$M/$1" >/dev/null 2>&1 &&
	   [ "$(stat -c %s "$R/$1")" = "$(stat -c %s "$M/$1")" ]; then
		t_pass
	else
		t_fail "$2: $1 differs from the native reference" \
			"(size $(stat -c %s "$R/$1") vs $(stat -c %s "$M/$1" 2>&1))"
	fi
}

head -c 300000 /dev/urandom > "$S/r300k"
head -c 70001 /dev/urandom > "$S/r70k"
head -c 5000 /dev/urandom > "$S/r5k"
head -c 65536 /dev/urandom > "$S/patch"

# ---- trees: mkdir -p, cp, mv across folders, rm -r ----
both 'mkdir -p a/b/c/d/e x/y/z && mkdir -p a/b/c'
both 'cp "$S/r300k" a/f1 && cp "$S/r70k" a/b/f2 && cp "$S/r5k" a/b/c/d/e/f3 && : > a/b/c/empty'
both 'echo top > a/b/c/d/note && printf "no newline" > x/y/z/n'
both '(umask 077 && echo secret > a/private && mkdir a/privdir)'
same_tree "after mkdir -p and cp"
t_eq "$(stat -c %a "$M/a/private") $(stat -c %a "$M/a/privdir")" "600 700" \
	"umask 077 gives mode 600 files and 700 folders"
both 'mv a/f1 x/'			# a file to another folder
both 'mv a/b x/y/'			# a folder with content to another folder
both 'mv x/y/b/c/d x/d2'		# a nested folder out, renamed
both 'mv x/f1 x/y/b/f2'			# a file over an existing one
both 'mkdir emptydir && mv -T x/d2 emptydir'	# a folder over an empty folder
both 'mv x/y/z/n x/y/z/renamed'		# a rename in place
same_tree "after mv of files and folders"
t_check "mv: the moved folder left its old place" test ! -e "$M/a/b"
t_check "mv: the moved file left its old place" test ! -e "$M/a/f1"
t_eq "$(sha256sum < "$M/x/y/b/f2")" "$(sha256sum < "$S/r300k")" \
	"a file moved over another holds the moved content"
both 'cp -r x xcopy && cp -r emptydir x/y/b/'
same_tree "after cp -r inside the mount"
both 'rm -r x/y/b/c && rm a/private && rmdir a/privdir'
same_tree "after rm -r"
t_check "rm -r: the folder is gone" test ! -e "$M/x/y/b/c"
both 'rm -r xcopy emptydir'
same_tree "after rm -r of whole trees"
t_eq "$(ls -A "$M/a")" "" "a folder emptied by mv is empty"

# ---- 10,000 files in one folder ----
# Created empty (one metadata write each) and every 100th given content, so
# the listing also shows real sizes.
mkdir "$M/many" || t_fail "mkdir many"
(cd "$M/many" && seq -w 1 10000 | sed 's/^/f/' | xargs touch) || t_fail "touch of 10,000 files"
for i in $(seq -w 100 100 10000); do
	printf '%s\n' "$i" > "$M/many/f$i" || t_fail "write many/f$i"
done
ls -l "$M/many" > "$T_DIR/many.ls"
t_eq "$(grep -c '^-' "$T_DIR/many.ls")" 10000 "ls -l of 10,000 files: file lines"
t_eq "$(wc -l < "$T_DIR/many.ls")" 10001 "ls -l of 10,000 files: lines (with 'total')"
t_eq "$(awk '/^-/ && $5 != ($NF ~ /00$/ ? 6 : 0)' "$T_DIR/many.ls" | wc -l)" 0 \
	"ls -l of 10,000 files: every size is right"
if diff <(seq -w 1 10000 | sed 's/^/f/') <(ls -1 "$M/many") > "$T_DIR/many.diff"; then
	t_pass
else
	t_fail "ls of 10,000 files: names differ: $(head -5 "$T_DIR/many.diff")"
fi
t_eq "$(ls -f "$M/many" | wc -l)" 10002 "unsorted listing (ls -f) has 10,000 files, . and .."
t_eq "$(cat "$M/many/f00001" "$M/many/f05000" "$M/many/f10000")" "$(printf '05000\n10000')" \
	"contents of files among 10,000"
rm -r "$M/many" || t_fail "rm -r of 10,000 files"
t_check "rm -r of 10,000 files: gone" test ! -e "$M/many"

# ---- truncate and partial overwrite, against a native file ----
both 'cp "$S/r300k" t'
steps=(
	'truncate -s 1000000 t'		# grow: zeros
	'truncate -s 12345 t'		# shrink
	'dd if="$S/patch" of=t bs=1000 count=3 seek=2 conv=notrunc status=none'
	'dd if="$S/patch" of=t bs=4096 count=2 seek=3 conv=notrunc status=none'	# beyond EOF
	'dd if="$S/patch" of=t bs=1 count=7 seek=100 conv=notrunc status=none'
	'truncate -s 4096 t'
	'truncate -s 4097 t'
	'truncate -s +131072 t'
	'dd if="$S/patch" of=t bs=65536 seek=1 conv=notrunc status=none'
	'truncate -s 0 t'
	'truncate -s 70000 t'
	'dd if="$S/patch" of=t bs=5000 count=1 seek=3 status=none'	# without notrunc: cuts at the end of what it wrote
	'printf abc | dd of=t bs=1 seek=1 conv=notrunc status=none'
)
for s in "${steps[@]}"; do
	both "$s"
	same_file t "$s"
done
t_eq "$(stat -c %s "$M/t")" 20000 "size after dd without conv=notrunc (cut at seek + written)"
t_eq "$(xattr user.oand.sha256 "$M/t" 2>&1)" "$(sha256sum < "$R/t" | cut -d' ' -f1)" \
	"user.oand.sha256 after truncates and overwrites"

# ---- sparse writes at random offsets beyond EOF ----
RANDOM=4242
both ': > sparse'
for i in $(seq 1 40); do
	off=$(( (RANDOM * 32768 + RANDOM) % (16 * 1024 * 1024) ))
	len=$(( RANDOM % 9000 + 1 ))
	skip=$(( RANDOM % (65536 - len) ))
	both "dd if=\"\$S/patch\" of=sparse bs=$len count=1 skip=$skip seek=$off iflag=skip_bytes oflag=seek_bytes conv=notrunc status=none"
done
same_file sparse "40 writes at random offsets"
both 'dd if="$S/patch" of=sparse bs=1 count=3 seek=20000000 conv=notrunc status=none'
same_file sparse "a write far beyond EOF"
t_eq "$(dd if="$M/sparse" bs=4096 skip=4000 count=1 status=none | tr -d '\0' | wc -c)" \
	"$(dd if="$R/sparse" bs=4096 skip=4000 count=1 status=none | tr -d '\0' | wc -c)" \
	"holes read as zeros"
both 'rm t sparse'

# ---- symlinks ----
mkdir -p "$M/s/dir" && echo through > "$M/s/dir/file" || t_fail "symlink setup"
ln -s dir/file "$M/s/rel" || t_fail "ln -s relative"
ln -s "$M/s/dir" "$M/s/abs" || t_fail "ln -s absolute to a folder"
ln -s ../nowhere "$M/s/dangling" || t_fail "ln -s dangling"
long=$(printf 'L%.0s' $(seq 1 1000))
ln -s "$long" "$M/s/long" || t_fail "ln -s with a 1000-byte target"
t_eq "$(readlink "$M/s/rel")" dir/file "readlink of a relative link"
t_eq "$(readlink "$M/s/abs")" "$M/s/dir" "readlink of an absolute link"
t_eq "$(readlink "$M/s/long")" "$long" "readlink of a 1000-byte target"
t_eq "$(cat "$M/s/rel")" through "cat through a symlink"
t_eq "$(ls "$M/s/abs/")" file "ls through a symlink to a folder"
t_eq "$(cd "$M/s" && ls -l rel | awk '{print $(NF-2), $(NF-1), $NF}')" "rel -> dir/file" "ls -l shows the link target"
t_eq "$(stat -c %F "$M/s/rel")" "symbolic link" "lstat of a link"
t_eq "$(stat -L -c %s "$M/s/rel")" 8 "stat through a link gives the target's size"
t_refused "cat through a dangling link" "No such file or directory" cat "$M/s/dangling"
echo more >> "$M/s/rel" || t_fail "append through a symlink"
t_eq "$(cat "$M/s/dir/file")" "$(printf 'through\nmore')" "append through a link changes the target"
t_eq "$(stat -c %F "$M/s/rel")" "symbolic link" "writing through a link keeps the link"
mv "$M/s/rel" "$M/s/dir/moved" || t_fail "mv of a symlink"
t_eq "$(readlink "$M/s/dir/moved")" dir/file "a moved link keeps its target text"
rm "$M/s/dir/moved" "$M/s/abs" || t_fail "rm of symlinks"
t_eq "$(cat "$M/s/dir/file")" "$(printf 'through\nmore')" "removing links leaves the target"

# ---- xattrs ----
cp "$S/r70k" "$M/x1" && : > "$M/x0" || t_fail "xattr setup"
for f in x1 x0 s/dir/file; do
	t_eq "$(xattr user.oand.sha256 "$M/$f" 2>&1)" \
		"$(sha256sum < "$M/$f" | cut -d' ' -f1)" "user.oand.sha256 of $f equals sha256sum"
done
id=$("$OAND" -c "$conf" status --json | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
t_check "status --json gives a 64-hex node id" grep -Eqx '[0-9a-f]{64}' <<<"$id"
holders=$(xattr user.oand.holders "$M/x1" 2>&1)
t_check "user.oand.holders is not empty" test -n "$holders"
t_eq "$holders" "$id" "user.oand.holders names this node"
t_check "getfattr -d lists user.oand.sha256" grep -q '^user.oand.sha256=' <(getfattr --absolute-names -d "$M/x1")
t_refused "setfattr on user.oand.sha256" "Operation not permitted|not supported" \
	setfattr -n user.oand.sha256 -v 0000 "$M/x1"
t_refused "setfattr -x user.oand.sha256" "Operation not permitted|not supported" \
	setfattr -x user.oand.sha256 "$M/x1"
t_eq "$(xattr user.oand.sha256 "$M/x1" 2>&1)" "$(sha256sum < "$S/r70k" | cut -d' ' -f1)" \
	"user.oand.sha256 unchanged after a refused setfattr"
cp "$S/r5k" "$M/x1"
t_eq "$(xattr user.oand.sha256 "$M/x1" 2>&1)" "$(sha256sum < "$S/r5k" | cut -d' ' -f1)" \
	"user.oand.sha256 follows new content"

# ---- chmod, chown, touch -d ----
echo attrs > "$M/m" && mkdir "$M/md" || t_fail "attr setup"
chmod 600 "$M/m" && chmod 750 "$M/md" || t_fail "chmod"
t_eq "$(stat -c '%a %A' "$M/m")" "600 -rw-------" "chmod 600 on a file"
t_eq "$(stat -c '%a' "$M/md")" 750 "chmod 750 on a folder"
chmod u+x,g+r "$M/m" || t_fail "chmod u+x,g+r"
t_eq "$(stat -c '%a' "$M/m")" 740 "chmod u+x,g+r"
chown 1234:5678 "$M/m" && chown 4321:8765 "$M/md" || t_fail "chown"
t_eq "$(stat -c '%u:%g' "$M/m")" 1234:5678 "chown on a file"
t_eq "$(stat -c '%u:%g' "$M/md")" 4321:8765 "chown on a folder"
chgrp 99 "$M/m" || t_fail "chgrp"
t_eq "$(stat -c '%u:%g' "$M/m")" 1234:99 "chgrp keeps the owner"
touch -d '2001-02-03 04:05:06.123456789' "$M/m" || t_fail "touch -d on a file"
touch -d '1999-12-31 23:59:59' "$M/md" || t_fail "touch -d on a folder"
t_eq "$(stat -c %y "$M/m")" "2001-02-03 04:05:06.123456789 +0000" "touch -d sets the file's mtime"
t_eq "$(stat -c %y "$M/md")" "1999-12-31 23:59:59.000000000 +0000" "touch -d sets the folder's mtime"
echo rewritten > "$M/m" || t_fail "rewrite after chmod/chown"
t_eq "$(stat -c '%a %u:%g' "$M/m")" "740 1234:99" "new content keeps mode and owner"
t_check "new content moves the mtime forward" test "$(stat -c %Y "$M/m")" -gt 981173106
t_eq "$(cat "$M/m")" rewritten "content after chmod/chown/rewrite"
# cp -p (and tar, rsync -t) set the times on the open file, after writing
# and before close: the close must not replace them with the write time.
echo keep > "$S/stamped" && touch -d '2005-06-07 08:09:10' "$S/stamped" && chmod 640 "$S/stamped"
cp -p "$S/stamped" "$M/stamped" || t_fail "cp -p into the mount"
t_eq "$(stat -c '%a %y' "$M/stamped")" "640 2005-06-07 08:09:10.000000000 +0000" \
	"cp -p keeps mode and mtime"
tar -C "$S" -cf "$T_DIR/stamped.tar" stamped && mkdir "$M/untar" &&
	tar -C "$M/untar" -xf "$T_DIR/stamped.tar" || t_fail "tar -x into the mount"
t_eq "$(stat -c '%a %y' "$M/untar/stamped")" "640 2005-06-07 08:09:10.000000000 +0000" \
	"tar -x keeps mode and mtime"

# ---- statfs ----
read -r msize mavail < <(df -B1 --output=size,avail "$M" | tail -1)
read -r dsize davail < <(df -B1 --output=size,avail "$D" | tail -1)
t_check "df size of the mount ($msize) is close to the data dir's disk ($dsize)" \
	test $(( msize > dsize ? msize - dsize : dsize - msize )) -le $(( dsize / 100 ))
t_check "df avail of the mount ($mavail) is close to the data dir's disk ($davail)" \
	test $(( mavail > davail ? mavail - davail : davail - mavail )) -le $(( dsize / 100 + 1 ))
t_eq "$(stat -f -c %l "$M")" 255 "statfs reports 255-byte names"

# ---- hard links are refused ----
t_refused "ln (hard link)" "Operation not permitted|not supported" ln "$M/x1" "$M/hard"
t_check "a refused hard link leaves nothing" test ! -e "$M/hard"
t_eq "$(sha256sum < "$M/x1")" "$(sha256sum < "$S/r5k")" "a refused hard link leaves the source"

# ---- open files keep their identity (the mount works by inode) ----
cat > "$T_DIR/ident.py" <<'EOF2'
import errno, os, sys
m = sys.argv[1]
def w(p, data):
    with open(p, "w") as f: f.write(data)
def say(*a): print(*a)
os.mkdir(m + "/id")
# An editor saves over an open file: write a temporary file, rename it over.
w(m + "/id/doc", "old\n")
fd = os.open(m + "/id/doc", os.O_RDONLY)
ino = os.fstat(fd).st_ino
w(m + "/id/doc.tmp", "new text\n")
os.rename(m + "/id/doc.tmp", m + "/id/doc")
st = os.fstat(fd)
say("saved-over fstat", st.st_ino == ino, st.st_size, st.st_nlink)
say("saved-over read", os.pread(fd, 100, 0))
say("saved-over path", open(m + "/id/doc").read().strip(), os.stat(m + "/id/doc").st_ino != ino)
os.close(fd)
# Unlinked while open: fstat and reads go on.
w(m + "/id/gone", "still here\n")
fd = os.open(m + "/id/gone", os.O_RDONLY)
os.unlink(m + "/id/gone")
st = os.fstat(fd)
say("unlinked fstat", st.st_size, st.st_nlink)
say("unlinked read", os.pread(fd, 100, 0))
say("unlinked path", os.path.exists(m + "/id/gone"))
os.close(fd)
# Renamed, with its folder, while open for writing: the write lands in it.
os.mkdir(m + "/id/d1")
fd = os.open(m + "/id/d1/f", os.O_WRONLY | os.O_CREAT, 0o644)
ino = os.fstat(fd).st_ino
os.rename(m + "/id/d1", m + "/id/d2")
os.write(fd, b"written after the move\n")
say("moved fstat", os.fstat(fd).st_ino == ino, os.stat(m + "/id/d2/f").st_ino == ino)
os.close(fd)
say("moved content", open(m + "/id/d2/f").read().strip())
# Names of 255 bytes work; 256 is too long.
n255 = "n" * 255
w(m + "/id/" + n255, "long\n")
os.rename(m + "/id/" + n255, m + "/id/d2/" + n255)
say("255 listed", n255 in os.listdir(m + "/id/d2"), open(m + "/id/d2/" + n255).read().strip())
try:
    open(m + "/id/" + "n" * 256, "w")
    say("256 created")
except OSError as e:
    say("256", errno.errorcode[e.errno])
EOF2
python3 "$T_DIR/ident.py" "$R" > "$T_DIR/ident.ref" 2>&1 || t_fail "ident.py on the native folder: $(cat "$T_DIR/ident.ref")"
python3 "$T_DIR/ident.py" "$M" > "$T_DIR/ident.out" 2>&1 || t_fail "ident.py on the mount: $(cat "$T_DIR/ident.out")"
t_eq "$(cat "$T_DIR/ident.out")" "$(cat "$T_DIR/ident.ref")" \
	"open files across saves, removals and moves, and 255-byte names, as on a native folder"
t_check "the native run saw what the test expects" grep -qx "saved-over read b'old\\\\n'" "$T_DIR/ident.ref"
rm -r "$M/id" "$R/id" || t_fail "rm -r of the identity test folders"

# ---- oand status ----
nf=$(find "$M" -mindepth 1 -type f | wc -l)
nd=$(find "$M" -mindepth 1 -type d | wc -l)
nl=$(find "$M" -mindepth 1 -type l | wc -l)
ne=$((nf + nd + nl))
st=$("$OAND" -c "$conf" status) || t_fail "oand status exit $?"
t_eq "$(grep '^entries:' <<<"$st" | tr -s ' ')" \
	"entries: $ne ($nf files, $nd folders, $nl symlinks)" "oand status entry counts"
t_eq "$(grep '^mount point:' <<<"$st" | tr -s ' ')" "mount point: $M" "oand status mount point"
js=$("$OAND" -c "$conf" status --json) || t_fail "oand status --json exit $?"
t_check "status --json entries" grep -q "\"entries\":$ne," <<<"$js"
t_check "status --json files/folders/symlinks" \
	grep -q "\"files\":$nf,\"folders\":$nd,\"symlinks\":$nl," <<<"$js"
t_check "status --json mount point" grep -qF "\"mount_point\":\"$M\"" <<<"$js"
t_eq "$(grep -o '"bytes":[0-9]*' <<<"$js" | cut -d: -f2)" \
	"$(find "$M" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')" "status --json bytes"

t_stop n1 || t_fail "clean unmount"
t_done
