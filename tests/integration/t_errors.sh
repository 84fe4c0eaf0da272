#!/usr/bin/env bash
# Failing operations report the real errno, through the shell tools (their
# messages, LC_ALL=C) and through plain system calls (tests/tools/fsop
# prints the errno name), and leave the tree exactly as it was.
. "$(dirname "$0")/lib.sh"
t_init
export LC_ALL=C
FSOP=$OAND_TOOLS/fsop
[ -x "$FSOP" ] || t_die "helper $FSOP is not built (make integration builds it)"
conf=$(t_conf n1)
t_start n1 || t_die "node n1 did not start (see $T_DIR/n1.log)"
M=$T_DIR/n1.mnt

# t_errno DESC EXPECTED OP ARGS...: the system call fails with EXPECTED
# ("OK" for success).
t_errno() {
	local desc=$1 exp=$2
	shift 2
	t_eq "$("$FSOP" "$@" 2>&1)" "$exp" "$desc"
}


# The tree every refused operation must leave alone (folder mtimes left
# out: creating and removing names in a folder may change them).
snap() {
	(cd "$M" && find . \( -type d -printf '%p d %m\n' \) -o -printf '%p %y %s %m %T@ %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

cd "$M" || t_die "cannot enter $M"
mkdir -p d/sub empty full/inner && echo content > f && echo other > g &&
	echo inside > full/file && echo deep > d/sub/x && ln -s f lnk ||
	t_die "cannot build the test tree"
before=$(snap)

# ---- ENOENT ----
t_refused "cat of a missing file" "No such file or directory" cat missing
t_refused "ls of a missing path" "No such file or directory" ls missing/x
t_refused "write into a missing folder" "No such file or directory" bash -c 'echo x > missing/f'
t_refused "rm of a missing file" "No such file or directory" rm missing
t_errno "open(missing, O_RDONLY)" ENOENT open missing r
t_errno "open(missing/f, O_CREAT)" ENOENT open missing/f wc
t_errno "mkdir(missing/d)" ENOENT mkdir missing/d
t_errno "rename(missing, x)" ENOENT rename missing x
t_errno "rmdir(missing)" ENOENT rmdir missing
t_errno "unlink(missing)" ENOENT unlink missing
t_errno "stat of a dangling name inside a folder" ENOENT stat d/nothing
t_errno "readlink(missing)" ENOENT readlink missing

# ---- EEXIST ----
t_refused "mkdir of an existing folder" "File exists" mkdir d
t_refused "mkdir over an existing file" "File exists" mkdir f
t_errno "mkdir(existing folder)" EEXIST mkdir d
t_errno "mkdir(existing file)" EEXIST mkdir f
t_errno "open(existing, O_CREAT|O_EXCL)" EEXIST open f wcx
t_errno "symlink onto an existing name" EEXIST symlink target f
t_refused "ln -s onto an existing name" "File exists" ln -s target g

# ---- ENOTDIR ----
t_refused "ls file/x" "Not a directory" ls f/x
t_refused "cat file/x" "Not a directory" cat f/x
t_errno "stat(file/x)" ENOTDIR stat f/x
t_errno "mkdir(file/x)" ENOTDIR mkdir f/x
t_errno "rmdir(file)" ENOTDIR rmdir f
t_errno "opendir(file)" ENOTDIR readdir f
t_errno "rename(folder, file)" ENOTDIR rename d f
t_errno "open(file/x, O_CREAT)" ENOTDIR open f/x wc

# ---- EISDIR ----
t_refused "echo > folder" "Is a directory" bash -c 'echo > d'
t_errno "open(folder, O_WRONLY)" EISDIR open d w
t_errno "open(folder, O_RDWR)" EISDIR open d rw
t_errno "unlink(folder)" EISDIR unlink d
t_errno "rename(file, folder)" EISDIR rename f d
t_errno "truncate(folder)" EISDIR truncate d 0

# ---- ENOTEMPTY ----
t_refused "rmdir of a non-empty folder" "Directory not empty" rmdir full
t_refused "rmdir of a folder holding only a folder" "Directory not empty" rmdir d
t_errno "rmdir(non-empty)" ENOTEMPTY rmdir full
t_errno "rename(folder, non-empty folder)" ENOTEMPTY rename empty full

# ---- ENAMETOOLONG: 255 bytes is the limit of a name ----
n255=$(printf 'n%.0s' $(seq 1 255))
n256=$(printf 'o%.0s' $(seq 1 256))
t_refused "touch of a 256-byte name" "File name too long" touch "$n256"
t_refused "mkdir of a 256-byte name" "File name too long" mkdir "$n256"
t_errno "open(256-byte name, O_CREAT)" ENAMETOOLONG open "$n256" wc
t_errno "mkdir(256-byte name)" ENAMETOOLONG mkdir "$n256"
t_errno "symlink(x, 256-byte name)" ENAMETOOLONG symlink x "$n256"
t_errno "rename(f, 256-byte name)" ENAMETOOLONG rename f "$n256"
t_errno "stat(256-byte name)" ENAMETOOLONG stat "$n256"
t_errno "stat(256-byte name inside a folder)" ENAMETOOLONG stat "d/$n256"
t_check "nothing with a 256-byte name was made" test -z "$(find . -name "o*")"
after=$(snap)
t_eq "$after" "$before" "the refused operations changed nothing"

echo 255 > "$n255" || t_fail "create a 255-byte name"
t_eq "$(cat "$n255")" 255 "read a 255-byte name"
mkdir "d/$n255" && echo in > "d/$n255/$n255" || t_fail "mkdir and create 255-byte names"
t_eq "$(cat "d/$n255/$n255")" in "read a file in a folder with a 255-byte name"
ln -s "$n255" "l$(printf 'k%.0s' $(seq 1 254))" || t_fail "symlink with a 255-byte name"
t_eq "$(ls | grep -c "^$n255\$")" 1 "ls lists the 255-byte name"
mv "$n255" "$(printf 'm%.0s' $(seq 1 255))" || t_fail "rename to a 255-byte name"
t_eq "$(cat "$(printf 'm%.0s' $(seq 1 255))")" 255 "read after a rename to a 255-byte name"
rm -r "d/$n255" "$(printf 'm%.0s' $(seq 1 255))" "l$(printf 'k%.0s' $(seq 1 254))" ||
	t_fail "rm of 255-byte names"
t_eq "$(snap)" "$before" "the tree is back as it was"

# ---- renameat2 flags and folders into themselves ----
t_errno "rename NOREPLACE onto an existing file" EEXIST rename f g noreplace
t_errno "rename NOREPLACE onto an existing folder" EEXIST rename empty d noreplace
t_errno "rename EXCHANGE of two files" EINVAL rename f g exchange
t_errno "rename EXCHANGE of two folders" EINVAL rename empty d exchange
t_errno "rename of a folder into itself" EINVAL rename d d/sub/new
t_errno "rename of a folder onto its own subfolder" EINVAL rename d d/sub
t_eq "$(cat f g)" "$(printf 'content\nother')" "refused renames leave both files"
t_eq "$(snap)" "$before" "refused renames changed nothing"
t_errno "rename NOREPLACE to a free name" OK rename f f2 noreplace
t_eq "$(cat f2)" content "rename NOREPLACE to a free name moved the file"
t_errno "rename back" OK rename f2 f

# ---- hard links ----
t_refused "ln (hard link)" "Operation not permitted" ln f hard
t_errno "link(2)" EPERM link f hard
t_check "a refused hard link leaves nothing" test ! -e hard

# ---- xattrs that do not exist or may not be set ----
t_errno "getxattr of an unknown name" ENODATA getxattr f user.other
t_errno "getxattr user.oand.sha256 of a folder" ENODATA getxattr d user.oand.sha256
t_errno "setxattr user.oand.sha256" EPERM setxattr f user.oand.sha256 0
t_errno "removexattr user.oand.sha256" EPERM removexattr f user.oand.sha256

t_eq "$(snap)" "$before" "nothing changed in the end"
# The node is still healthy after all these errors.
t_check "oand status answers" "$OAND" -c "$conf" status >/dev/null
cd / && t_stop n1 || t_fail "clean unmount"
t_done
