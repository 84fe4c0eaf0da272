#!/usr/bin/env bash
# One file, many descriptors on one node: a reader sees a writer's bytes
# at once (the page cache held the old version before), and after the
# writer closes; the version other nodes get (user.oand.sha256) stays the
# published one while the writer is open and is the new one whole after
# its close.
. "$(dirname "$0")/lib.sh"
t_init
conf=$(t_conf n1)
mnt="$T_DIR/n1.mnt"
t_start n1 || t_die "node did not start"
sha_of() { getfattr --absolute-names --only-values -n user.oand.sha256 "$1"; }
for size in 8192 1048576; do
	f="$mnt/f$size"
	head -c $size /dev/urandom > "$f" || t_die "write"
	cat "$f" > /dev/null	# the old version is now in the page cache
	old=$(sha_of "$f")
	t_check "one state for all descriptors, $size bytes" \
		env C2O_PAUSE="test \"\$(getfattr --absolute-names --only-values -n user.oand.sha256 '$f')\" = $old" \
		"$OAND_TOOLS/c2o" "$f"
	t_eq "$(sha_of "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)" "sha256 of the new version, $size"
	t_check "the new version differs from the old, $size" test "$(sha_of "$f")" != "$old"
done
t_stop n1 || t_fail "clean stop"
t_done
