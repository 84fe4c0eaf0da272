#!/bin/bash
# The layers of the source tree (HACKING): each folder includes only its
# own headers and those of the folders before it in LAYERS, so there is
# no cycle between folders.  The Makefile's per-folder include paths make
# a wrong include fail to compile; this checks the sources themselves, so
# a widened include path cannot hide one.  Run from the top of the tree.
set -u
LAYERS="util proto store net repl core fuse front"
rank() {
	local i=0 l
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done
	echo -1
}
folder_of() {	# the layer of a file by its path
	case $1 in
	fuse/*) echo fuse ;;
	src/*/*) local d=${1#src/}; echo "${d%%/*}" ;;
	*) echo "" ;;
	esac
}
bad=0
declare -A home
for h in src/*/*.h fuse/*.h; do
	b=${h##*/}
	if [ -n "${home[$b]:-}" ]; then
		echo "layers: $b is in both ${home[$b]} and $h (include names must be unique)"
		bad=1
	fi
	home[$b]=$h
done
for f in src/*/*.[ch] fuse/*.[ch]; do
	fl=$(folder_of "$f")
	fr=$(rank "$fl")
	if [ "$fr" -lt 0 ]; then
		echo "layers: $f is in no layer ($LAYERS)"
		bad=1
		continue
	fi
	while read -r inc; do
		h=${home[$inc]:-}
		if [ -z "$h" ]; then
			echo "layers: $f includes \"$inc\", which is no header of the tree"
			bad=1
			continue
		fi
		hl=$(folder_of "$h")
		if [ "$(rank "$hl")" -gt "$fr" ]; then
			echo "layers: $f ($fl) includes $h ($hl), a higher layer"
			bad=1
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
[ $bad -eq 0 ] && echo "layers: every include goes down ($LAYERS)"
exit $bad
